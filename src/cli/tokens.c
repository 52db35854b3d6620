/* tokens.c: `keel tokens`, token counts from the command line, exactly as tiktoken counts.
 *
 *   keel tokens [--encoding o200k_base|cl100k_base | --model NAME] [--raw] [--ids]
 *
 * Reads JSON lines on stdin and prints one count per line, in order:
 *   {"text": "..."}         tokens of the text (ordinary text, no special tokens)
 *   {"messages": [...]}     prompt tokens of a chat request by OpenAI's recipe
 * A line that is neither prints -1 (and a message on stderr) and the exit status is 1.
 * With --raw, all of stdin is one text and its count is printed.  With --ids, each text's
 * line is its token ids separated by spaces instead of the count.
 * JSON lines let scripts and the integration test send any string (newlines included)
 * through one process; the test compares thousands of counts with npm tiktoken's. */
#include "cli/cli.h"
#include "llm/kl_llm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage_err(const char *msg, const char *arg) {
  fprintf(stderr, "keel tokens: %s%s%s\n", msg, arg ? " " : "", arg ? arg : "");
  fprintf(stderr, "usage: keel tokens [--encoding o200k_base|cl100k_base | --model NAME] [--raw] [--ids] < input\n");
  return 2;
}

static bool print_ids;

/* Prints the count, or with --ids the ids themselves. */
static void put_text(const kl_tokenizer *t, const char *s, size_t n) {
  if (!print_ids) {
    printf("%zu\n", kl_tokenizer_count(t, s, n));
    return;
  }
  size_t c = kl_tokenizer_count(t, s, n);
  uint32_t *ids = malloc((c ? c : 1) * sizeof *ids);
  if (!ids) abort();
  kl_tokenizer_encode(t, s, n, ids, c);
  for (size_t i = 0; i < c; i++) printf(i ? " %u" : "%u", ids[i]);
  putchar('\n');
  free(ids);
}

static int count_raw(const kl_tokenizer *t) {
  kl_buf in = KL_BUF_INIT;
  if (kl_buf_read_fd(&in, 0, 0) != 0) {
    fprintf(stderr, "keel tokens: cannot read stdin: %s\n", strerror(errno));
    kl_buf_free(&in);
    return 1;
  }
  put_text(t, in.data ? in.data : "", in.len);
  kl_buf_free(&in);
  return 0;
}

static int count_lines(const kl_tokenizer *t) {
  char *line = NULL;
  size_t cap = 0, lineno = 0;
  ssize_t n;
  int rc = 0;
  while ((n = getline(&line, &cap, stdin)) >= 0) {
    lineno++;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    if (n == 0) continue; /* blank lines are not inputs */
    kl_err err = {0};
    cJSON *j = kl_json_parse(line, (size_t)n, &err);
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(j, "messages");
    if (cJSON_IsString(text)) {
      put_text(t, text->valuestring, strlen(text->valuestring));
    } else if (cJSON_IsArray(msgs)) {
      printf("%lld\n", (long long)kl_tokenizer_count_chat(t, msgs));
    } else {
      fprintf(stderr, "keel tokens: line %zu: %s\n", lineno,
              j ? "expected {\"text\": string} or {\"messages\": array}" : err.msg);
      printf("-1\n");
      rc = 1;
    }
    cJSON_Delete(j);
  }
  free(line);
  return rc;
}

int kl_cli_tokens(int argc, char **argv) {
  const char *encoding = NULL;
  bool raw = false;
  for (int i = 2; i < argc; i++) {
    if ((!strcmp(argv[i], "--encoding") || !strcmp(argv[i], "--model")) && i + 1 < argc) {
      encoding = !strcmp(argv[i], "--model") ? kl_tokenizer_for_model(argv[i + 1]) : argv[i + 1];
      i++;
    } else if (!strcmp(argv[i], "--raw")) {
      raw = true;
    } else if (!strcmp(argv[i], "--ids")) {
      print_ids = true;
    } else {
      return usage_err("unknown or incomplete option", argv[i]);
    }
  }
  kl_err err = {0};
  kl_tokenizer *t = kl_tokenizer_get(encoding ? encoding : "o200k_base", &err);
  if (!t) return usage_err(err.msg, NULL);
  int rc = raw ? count_raw(t) : count_lines(t);
  if (fflush(stdout) != 0) rc = 1;
  kl_tokenizer_free_all();
  return rc;
}
