/* Prints CLOCK_REALTIME in nanoseconds since the epoch: what a pipeline step
 * of bench/pipelines/pipeline_bench.sh runs first, to say when it started
 * (busybox's date has no %N). Built static into the bench's rootfs. */
#include <stdio.h>
#include <time.h>

int main(void) {
  struct timespec t;
  if (clock_gettime(CLOCK_REALTIME, &t) != 0) {
    perror("clock_gettime(CLOCK_REALTIME)");
    return 1;
  }
  printf("%lld%09ld\n", (long long)t.tv_sec, t.tv_nsec);
  return 0;
}
