/* main.c: the keel command line: dispatches to subcommands. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help")) {
    printf("usage: keel <serve|mock-upstream> [options]\n");
    return argc < 2 ? 2 : 0;
  }
  fprintf(stderr, "keel: unknown command '%s'\n", argv[1]);
  return 2;
}
