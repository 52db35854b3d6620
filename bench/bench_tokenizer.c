/* bench_tokenizer.c: keel's token counting speed (tokens/s, MB/s) and load time.
 *
 *   bench_tokenizer [FILE] [seconds]
 *
 * Counts FILE (default: a built-in mixed sample repeated to ~1 MB) with o200k_base and
 * cl100k_base, split into ~2 KB "messages" as the gateway would see them, repeating for
 * about `seconds` (default 2) per encoding, single-threaded.  Prints one line per encoding:
 * "<encoding> load_ms=.. tokens=.. mb_s=.. tokens_s=..".  bench/tokenizer.mjs runs this and
 * npm tiktoken on the same text and prints the ratio. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/kl_llm.h"

static const char *sample =
    "The gateway records every call: model, latency, tokens and cost. When an upstream stream is cut "
    "short, keel counts the tokens itself, exactly as tiktoken does.\n\n"
    "```python\ndef count(messages, enc):\n    return sum(len(enc.encode(m['content'])) for m in messages)\n```\n"
    "{\"id\":\"chatcmpl-123\",\"object\":\"chat.completion\",\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":34}}\n"
    "日本語のテキストも数えます。中文文本也一样。 Émojis 🎉👍🏽 and accents: café, naïve, Straße.\n"
    "Numbers like 3.14159, 2024-06-11 and 1,234,567 split into groups of three digits.\n";

int main(int argc, char **argv) {
  kl_buf text = KL_BUF_INIT;
  if (argc > 1) {
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
      perror(argv[1]);
      return 2;
    }
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) kl_buf_append(&text, chunk, n);
    fclose(f);
  } else {
    while (text.len < (1u << 20)) kl_buf_puts(&text, sample);
  }
  double secs = argc > 2 ? atof(argv[2]) : 2.0;
  const char *encs[] = {"o200k_base", "cl100k_base"};
  for (int e = 0; e < 2; e++) {
    kl_err err = {0};
    int64_t t0 = kl_mono_ns();
    kl_tokenizer *t = kl_tokenizer_get(encs[e], &err);
    int64_t load = kl_mono_ns() - t0;
    if (!t) {
      fprintf(stderr, "%s\n", err.msg);
      return 1;
    }
    size_t tokens = 0, bytes = 0;
    int64_t start = kl_mono_ns(), elapsed;
    do {
      /* ~2 KB messages, cut at a newline so pieces are realistic */
      for (size_t off = 0; off < text.len;) {
        size_t end = off + 2048 < text.len ? off + 2048 : text.len;
        while (end < text.len && text.data[end - 1] != '\n') end++;
        tokens += kl_tokenizer_count(t, text.data + off, end - off);
        off = end;
      }
      bytes += text.len;
      elapsed = kl_mono_ns() - start;
    } while ((double)elapsed < secs * 1e9);
    double s = (double)elapsed / 1e9;
    printf("%s load_ms=%.1f bytes=%zu tokens=%zu mb_s=%.2f tokens_s=%.0f\n", encs[e], (double)load / 1e6, bytes,
           tokens, (double)bytes / s / 1e6, (double)tokens / s);
  }
  kl_tokenizer_free_all();
  kl_buf_free(&text);
  return 0;
}
