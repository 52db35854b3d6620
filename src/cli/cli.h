/* cli.h: subcommands of the keel command line that live outside main.c. */
#ifndef KL_CLI_H
#define KL_CLI_H

/* keel tokens [--encoding NAME | --model NAME] [--raw]  (tokens.c) */
int kl_cli_tokens(int argc, char **argv);

/* keel guard scan [--policy default]  (guard_cmd.c) */
int kl_cli_guard(int argc, char **argv);

/* keel keys create [--project NAME] [--data-dir DIR | --config FILE] [--json]  (keys.c) */
int kl_cli_keys(int argc, char **argv);

#endif
