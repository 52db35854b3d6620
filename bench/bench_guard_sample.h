/* bench_guard_sample.h: bench_guard's 4 KiB sample text, repeated to 4 KiB by the benches
 * that use it (bench_guard, bench_guard_check): dense with digits and PII (a date, an email,
 * a phone, an IPv4), with code, JSON and non-ASCII, and none of the words the injection rules
 * look for. */
#ifndef KL_BENCH_GUARD_SAMPLE_H
#define KL_BENCH_GUARD_SAMPLE_H

static const char bench_guard_sample[] =
  "Hi, I'm writing about my order from 2024-03-18 (ref 1183-22). The gateway records every call: model, "
  "latency, tokens and cost. Please reach me at maria.rossi@example.it or +39 06 6982 1234 after 5pm.\n"
  "```python\ndef total(items):\n    return sum(i.price * i.qty for i in items)  # v1.2.3\n```\n"
  "{\"id\":\"chatcmpl-123\",\"object\":\"chat.completion\",\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":34}}\n"
  "Our server 10.20.30.40 logged it. Grüße aus Köln, café naïve Straße — 日本語のテキスト 🎉.\n"
  "Numbers like 3.14159, 1,234,567 and 42 are not PII; neither is version 1.2.3.4.5 nor 12:30:45.\n";

#endif
