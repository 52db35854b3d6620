/* tokenizer_data.c: the tiktoken rank files (data/tokenizers/<name>.json, 3.4 MB) embedded with
 * the assembler's .incbin rather than cmake/embed.cmake's hex arrays: a hex C array of that
 * size takes CMake and the compiler many seconds per build, .incbin costs nothing.  CMake
 * passes KEEL_SOURCE_DIR and lists the json files as OBJECT_DEPENDS so a changed file
 * rebuilds this object.  Each blob is followed by a NUL byte and bounded by an _end symbol. */
#include <stddef.h>

#ifndef KEEL_SOURCE_DIR
#error "KEEL_SOURCE_DIR must be defined (see CMakeLists.txt)"
#endif

#define KL_TOK_INCBIN(sym, file)                                           \
  __asm__(".section .rodata\n"                                            \
          ".balign 16\n"                                                  \
          ".global " #sym "\n"                                            \
          ".type " #sym ", @object\n" #sym ":\n"                          \
          ".incbin \"" KEEL_SOURCE_DIR "/data/tokenizers/" file "\"\n"    \
          ".global " #sym "_end\n" #sym "_end:\n"                         \
          ".byte 0\n"                                                     \
          ".previous\n")

KL_TOK_INCBIN(kl_tok_o200k, "o200k_base.json");
KL_TOK_INCBIN(kl_tok_cl100k, "cl100k_base.json");
