/* test_api_ui.c: the embedded dashboard table (cmake/embed_dir.cmake -> api/ui_assets.h).
 * Every file of ui/ is in it byte for byte, each gzip copy inflates to its file, index.html
 * names the build id, and the types and validators are right. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "api/ui_assets.h"

static char *read_file(const char *path, size_t *len) {
  kl_buf b = KL_BUF_INIT;
  if (kl_buf_read_path(&b, path, 0) != 0) {
    kl_buf_free(&b);
    return NULL;
  }
  *len = b.len;
  return b.data ? kl_buf_steal(&b) : calloc(1, 1);
}

static void test_every_file_is_embedded(void **state) {
  (void)state;
  DIR *d = opendir(KEEL_SOURCE_DIR "/ui");
  assert_non_null(d);
  size_t files = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    files++;
    const kl_ui_asset *a = kl_ui_find(e->d_name);
    assert_non_null(a);
    if (!strcmp(e->d_name, "index.html")) continue; /* stored with the build id substituted */
    char path[512];
    snprintf(path, sizeof path, "%s/ui/%s", KEEL_SOURCE_DIR, e->d_name);
    size_t len = 0;
    char *src = read_file(path, &len);
    assert_non_null(src);
    assert_int_equal(a->len, len);
    assert_memory_equal(a->data, src, len);
    free(src);
  }
  closedir(d);
  assert_int_equal(files, kl_ui_nassets);
  assert_null(kl_ui_find("nope.js"));
  assert_null(kl_ui_find("../ui/app.js"));
}

static void test_gzip_copies_inflate(void **state) {
  (void)state;
  size_t with_gz = 0;
  for (size_t i = 0; i < kl_ui_nassets; i++) {
    const kl_ui_asset *a = &kl_ui_assets[i];
    assert_non_null(a->etag);
    assert_int_equal(a->etag[0], '"');
    if (!a->gz) continue;
    with_gz++;
    assert_true(a->gz_len < a->len);
    unsigned char *out = malloc(a->len + 1);
    z_stream z = {0};
    assert_int_equal(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
    z.next_in = (unsigned char *)a->gz;
    z.avail_in = (uInt)a->gz_len;
    z.next_out = out;
    z.avail_out = (uInt)a->len + 1;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    assert_int_equal(z.total_out, a->len);
    assert_memory_equal(out, a->data, a->len);
    inflateEnd(&z);
    free(out);
  }
  assert_true(with_gz >= 3); /* the scripts and the style sheet compress */
}

static void test_index_and_types(void **state) {
  (void)state;
  assert_int_equal(strlen(kl_ui_build), 12);
  const kl_ui_asset *idx = kl_ui_find("index.html");
  assert_non_null(idx);
  assert_string_equal(idx->content_type, "text/html; charset=utf-8");
  char want[64];
  snprintf(want, sizeof want, "/ui/%s/app.js", kl_ui_build);
  assert_non_null(strstr((const char *)idx->data, want));
  assert_null(strstr((const char *)idx->data, "__KEEL_UI_BUILD__"));
  assert_string_equal(kl_ui_find("app.js")->content_type, "text/javascript; charset=utf-8");
  assert_string_equal(kl_ui_find("style.css")->content_type, "text/css; charset=utf-8");
  assert_string_equal(kl_ui_find("favicon.svg")->content_type, "image/svg+xml");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_file_is_embedded),
      cmocka_unit_test(test_gzip_copies_inflate),
      cmocka_unit_test(test_index_and_types),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
