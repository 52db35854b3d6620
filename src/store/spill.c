/* spill.c: the overflow file data_dir/spill.jsonl.
 *
 * When the queue is full (or a batch failed to commit) observations are appended here
 * instead of being dropped: one JSON object per line (ingest_rec.c's format, which for a
 * plain observation is obs.c's), each line handed
 * to a single write() loop under spill_mu on an O_APPEND descriptor, so lines from
 * concurrent submitters never interleave.  There is no fsync per line: a line that reached
 * write() survives a kill -9 (it is in the page cache), and only a power loss can cost the
 * last few.  A crash in the middle of a write() can leave a torn last line: replay skips a
 * final line without its '\n', and any line that does not parse (logged, not fatal).
 *
 * Replay: the file is read in batch_max chunks, each written through the backend's upsert (so
 * replaying a line twice, e.g. after a crash during replay, has one effect), and deleted when
 * all of it is in the database.  It happens in kl_store_open before the writer starts, and
 * while running (kl_spill_drain): when the writer's queue is empty and lines were spilled,
 * it renames the file to spill.draining.jsonl under spill_mu (new spills start a fresh
 * spill.jsonl) and replays that, KL_DRAIN_SLICE batches at a time (remembering where it
 * stopped), so records queued meanwhile and a shutdown never wait behind a big file; an
 * overload's spilled records show up once the load drops, not at the next restart.  A failed replay keeps its file: a drain file left behind
 * is replayed first, by the next drain or the next open. */
#include "store/store_int.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Opens the spill file for appending.  If an earlier replay failed and left a torn last
 * line in place, a '\n' is added first so the next line is not glued onto the fragment. */
static int spill_open(kl_store *s, kl_err *err) {
  int fd = open(s->spill_path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    kl_err_set(err, 503, "store: cannot open spill file %s: %s", s->spill_path, strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) == 0 && st.st_size > 0) {
    char last = 0;
    if (pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n') {
      if (write(fd, "\n", 1) != 1) { /* harmless: the next line then joins the torn one */ }
    }
  }
  s->spill_fd = fd;
  return 0;
}

/* Writes all of p or fails; on failure the file is cut back to where it was so a partial
 * line (e.g. on ENOSPC) does not glue itself onto the next one. */
static int write_whole(int fd, const char *p, size_t n) {
  off_t start = lseek(fd, 0, SEEK_END);
  size_t done = 0;
  while (done < n) {
    ssize_t w = write(fd, p + done, n - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      if (start >= 0 && ftruncate(fd, start) != 0) { /* nothing more we can do */ }
      errno = e;
      return -1;
    }
    done += (size_t)w;
  }
  return 0;
}

int kl_spill_append(kl_store *s, kl_rec *const *recs, size_t n, kl_err *err) {
  kl_buf line = KL_BUF_INIT;
  int rc = 0;
  pthread_mutex_lock(&s->spill_mu);
  if (s->spill_fd < 0 && spill_open(s, err) != 0) {
    rc = -1;
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    kl_buf_reset(&line);
    kl_rec_to_json(recs[i], &line);
    kl_buf_putc(&line, '\n');
    if (write_whole(s->spill_fd, line.data, line.len) != 0) {
      kl_err_set(err, 503, "store: cannot append to spill file %s: %s", s->spill_path, strerror(errno));
      rc = -1;
      goto out;
    }
    s->spilled++;
  }
  atomic_store(&s->spill_pending, true);
out:
  pthread_mutex_unlock(&s->spill_mu);
  kl_buf_free(&line);
  return rc;
}

static void free_batch(kl_rec **b, size_t *n) {
  for (size_t i = 0; i < *n; i++) kl_rec_free(b[i]);
  *n = 0;
}

/* Replays one file into the backend in batch_max chunks; *loaded = rows written.  With pos,
 * reading starts at *pos and stops after max_batches batches, leaving *pos after the last
 * line written: 1 = more remains.  0 = all of it is in (the file is deleted), -1 = error
 * (the file is kept). */
static int replay_file(kl_store *s, const char *path, long *pos, int max_batches, uint64_t *loaded_out,
                       kl_err *err) {
  *loaded_out = 0;
  FILE *f = fopen(path, "re");
  if (!f) {
    if (errno == ENOENT) return 0;
    kl_err_set(err, 500, "store: cannot read spill file %s: %s", path, strerror(errno));
    return -1;
  }
  if (pos && *pos > 0 && fseek(f, *pos, SEEK_SET) != 0) {
    kl_err_set(err, 500, "store: cannot seek in spill file %s: %s", path, strerror(errno));
    fclose(f);
    return -1;
  }
  int batches = 0;
  bool more = false;
  size_t bmax = s->opts.batch_max, n = 0;
  kl_rec **batch = calloc(bmax, sizeof *batch);
  if (!batch) abort();
  char *line = NULL;
  size_t lcap = 0;
  ssize_t len;
  uint64_t lineno = 0, skipped = 0, loaded = 0;
  int rc = 0;
  while ((len = getline(&line, &lcap, f)) > 0) {
    lineno++;
    if (line[len - 1] != '\n') { /* torn by a crash mid-write: can only be the last line */
      kl_warn("store: spill file %s: ignoring torn last line %" PRIu64, path, lineno);
      skipped++;
      break;
    }
    if (len == 1) continue;
    kl_err perr;
    kl_err_clear(&perr);
    kl_rec *o = kl_rec_from_json(line, (size_t)len - 1, &perr);
    if (!o) {
      kl_warn("store: spill file %s line %" PRIu64 ": %s; skipped", path, lineno, perr.msg);
      skipped++;
      continue;
    }
    batch[n++] = o;
    if (n == bmax) {
      if (s->vt->write_batch(s->be, batch, n, s->opts.merge, err) != 0) { rc = -1; break; }
      loaded += n;
      free_batch(batch, &n);
      if (pos) *pos = ftell(f);
      if (pos && ++batches >= max_batches) { /* a slice: the caller comes back for the rest */
        more = getc(f) != EOF;
        break;
      }
    }
  }
  if (rc == 0 && n > 0) {
    if (s->vt->write_batch(s->be, batch, n, s->opts.merge, err) != 0) rc = -1;
    else loaded += n;
  }
  free_batch(batch, &n);
  free(batch);
  free(line);
  fclose(f);
  *loaded_out = loaded;
  if (rc == 0 && more) return 1;
  if (rc != 0) {
    kl_warn("store: spill replay stopped after %" PRIu64 " observations (%s); keeping %s", loaded,
            err ? err->msg : "write failed", path);
    return -1;
  }
  if (unlink(path) != 0 && errno != ENOENT) {
    kl_err_set(err, 500, "store: cannot remove replayed spill file %s: %s", path, strerror(errno));
    return -1;
  }
  if (loaded || skipped)
    kl_info("store: replayed %" PRIu64 " observations from %s (%" PRIu64 " lines skipped)", loaded,
            path, skipped);
  return 0;
}


int kl_spill_replay(kl_store *s, kl_err *err) {
  uint64_t n = 0;
  int rc = replay_file(s, s->drain_path, NULL, 0, &n, err); /* older: a drain the last run left */
  s->replayed += n;
  if (rc != 0) return -1;
  rc = replay_file(s, s->spill_path, NULL, 0, &n, err);
  s->replayed += n;
  return rc;
}

int kl_spill_drain(kl_store *s, uint64_t *loaded) {
  *loaded = 0;
  struct stat st;
  if (stat(s->drain_path, &st) != 0) { /* no earlier drain left over: take the spill file */
    pthread_mutex_lock(&s->spill_mu);
    atomic_store(&s->spill_pending, false);
    kl_spill_close(s); /* the next spill opens a fresh spill.jsonl */
    int r = rename(s->spill_path, s->drain_path);
    int e = errno;
    pthread_mutex_unlock(&s->spill_mu);
    if (r != 0) {
      if (e == ENOENT) return 0;
      kl_warn("store: cannot take spill file %s for replay: %s", s->spill_path, strerror(e));
      atomic_store(&s->spill_pending, true);
      return -1;
    }
    s->drain_pos = 0;
  }
  kl_err err;
  kl_err_clear(&err);
  int rc = replay_file(s, s->drain_path, &s->drain_pos, KL_DRAIN_SLICE, loaded, &err);
  if (rc != 0) atomic_store(&s->spill_pending, true); /* the rest next time, or a retry */
  if (rc == 0) s->drain_pos = 0;
  return rc;
}

void kl_spill_close(kl_store *s) {
  if (s->spill_fd >= 0) close(s->spill_fd);
  s->spill_fd = -1;
}
