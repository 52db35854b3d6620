/* main.c: the keel command line.
 *
 *   keel serve [--config FILE] [--listen HOST:PORT] [--data-dir DIR] [--log-level LEVEL]
 *   keel mock-upstream [--listen HOST:PORT] [--latency-ms N] [--chunk-delay-ms N] [--workers N]
 *   keel version
 *
 * Command-line flags override the config file, which overrides the embedded defaults. */
#include "api/kl_api.h"
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEEL_VERSION "0.1.0"

static void usage(FILE *f) {
  fprintf(f,
          "usage: keel <command> [options]\n\n"
          "commands:\n"
          "  serve           run the gateway\n"
          "      --config FILE        YAML config (default: embedded defaults)\n"
          "      --listen HOST:PORT   override listen (default 127.0.0.1:4000)\n"
          "      --data-dir DIR       override data_dir (default ./keel-data)\n"
          "      --log-level LEVEL    debug | info | warn | error\n"
          "  mock-upstream   run the mock OpenAI-compatible upstream\n"
          "      --listen HOST:PORT   (default 127.0.0.1:4010)\n"
          "      --latency-ms N       delay before the first byte\n"
          "      --chunk-delay-ms N   delay between streamed chunks\n"
          "      --workers N          event loops (default 1)\n"
          "  tokens          count tokens like tiktoken [--encoding NAME|--model NAME] [--raw] (JSON lines on stdin)\n"
          "  guard scan      find and redact PII [--policy default] (JSON or text lines on stdin)\n"
          "  keys create     a project's API key pair for ingestion [--project NAME] [--data-dir DIR|--config FILE] [--json]\n"
          "  version         print the version\n");
}

/* "host:port", "[v6]:port", ":port" or "port". */
static int parse_listen(const char *s, char **host, int *port) {
  const char *colon = strrchr(s, ':');
  const char *ps = colon ? colon + 1 : s;
  char *end;
  long p = strtol(ps, &end, 10);
  if (!*ps || *end || p < 0 || p > 65535) return -1;
  *port = (int)p;
  if (!colon || colon == s) {
    *host = strdup("127.0.0.1");
  } else if (s[0] == '[' && colon[-1] == ']') {
    *host = strndup(s + 1, (size_t)(colon - s - 2));
  } else {
    *host = strndup(s, (size_t)(colon - s));
  }
  return 0;
}

static int set_log_level(const char *v) {
  if (!strcmp(v, "debug")) kl_log_set_level(KL_LOG_DEBUG);
  else if (!strcmp(v, "info")) kl_log_set_level(KL_LOG_INFO);
  else if (!strcmp(v, "warn")) kl_log_set_level(KL_LOG_WARN);
  else if (!strcmp(v, "error")) kl_log_set_level(KL_LOG_ERROR);
  else return -1;
  return 0;
}

static const char *arg_value(int argc, char **argv, int *i) {
  if (*i + 1 >= argc) {
    fprintf(stderr, "keel: %s needs a value\n", argv[*i]);
    exit(2);
  }
  return argv[++*i];
}

static int cmd_serve(int argc, char **argv) {
  const char *config = NULL, *listen = NULL, *data_dir = NULL, *level = NULL;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c")) config = arg_value(argc, argv, &i);
    else if (!strcmp(argv[i], "--listen")) listen = arg_value(argc, argv, &i);
    else if (!strcmp(argv[i], "--data-dir")) data_dir = arg_value(argc, argv, &i);
    else if (!strcmp(argv[i], "--log-level")) level = arg_value(argc, argv, &i);
    else {
      fprintf(stderr, "keel serve: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  kl_err err = {0};
  kl_config *cfg = kl_config_load(config, &err);
  if (!cfg) {
    fprintf(stderr, "keel: %s\n", err.msg);
    return 1;
  }
  if (listen) {
    free(cfg->listen_host);
    cfg->listen_host = NULL;
    if (parse_listen(listen, &cfg->listen_host, &cfg->listen_port) != 0) {
      fprintf(stderr, "keel: --listen %s: expected HOST:PORT\n", listen);
      kl_config_free(cfg);
      return 2;
    }
  }
  if (data_dir) {
    free(cfg->data_dir);
    cfg->data_dir = strdup(data_dir);
  }
  const char *lv = level ? level : cfg->log_level;
  if (lv && set_log_level(lv) != 0) {
    fprintf(stderr, "keel: log level '%s': expected debug, info, warn or error\n", lv);
    kl_config_free(cfg);
    return 2;
  }
  int rc = kl_api_serve(cfg, &err);
  if (rc != 0) fprintf(stderr, "keel: %s\n", err.msg);
  kl_config_free(cfg);
  return rc ? 1 : 0;
}

static int cmd_mock(int argc, char **argv) {
  kl_mock_server_opts o = {.port = 4010, .workers = 1};
  char *host = NULL;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--listen")) {
      const char *v = arg_value(argc, argv, &i);
      free(host);
      host = NULL;
      if (parse_listen(v, &host, &o.port) != 0) {
        fprintf(stderr, "keel mock-upstream: --listen %s: expected HOST:PORT\n", v);
        return 2;
      }
    } else if (!strcmp(argv[i], "--latency-ms")) o.mock.latency_ms = atoi(arg_value(argc, argv, &i));
    else if (!strcmp(argv[i], "--chunk-delay-ms")) o.mock.chunk_delay_ms = atoi(arg_value(argc, argv, &i));
    else if (!strcmp(argv[i], "--workers")) o.workers = atoi(arg_value(argc, argv, &i));
    else if (!strcmp(argv[i], "--log-level")) {
      if (set_log_level(arg_value(argc, argv, &i)) != 0) return 2;
    } else {
      fprintf(stderr, "keel mock-upstream: unknown option '%s'\n", argv[i]);
      free(host);
      return 2;
    }
  }
  o.host = host ? host : "127.0.0.1";
  kl_err err = {0};
  int rc = kl_api_mock_upstream(&o, &err);
  if (rc != 0) fprintf(stderr, "keel: %s\n", err.msg);
  free(host);
  return rc ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "serve")) return cmd_serve(argc, argv);
  if (!strcmp(cmd, "mock-upstream")) return cmd_mock(argc, argv);
  if (!strcmp(cmd, "tokens")) return kl_cli_tokens(argc, argv);
  if (!strcmp(cmd, "guard")) return kl_cli_guard(argc, argv);
  if (!strcmp(cmd, "keys")) return kl_cli_keys(argc, argv);
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
    printf("keel %s\n", KEEL_VERSION);
    return 0;
  }
  if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "keel: unknown command '%s'\n", cmd);
  usage(stderr);
  return 2;
}
