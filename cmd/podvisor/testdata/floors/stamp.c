/* stamp FILE: writes CLOCK_MONOTONIC in nanoseconds to FILE, as early as a
 * program can, then waits for a signal. The peer benchmark's workload. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	if (argc < 2)
		return 2;
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%lld\n", (long long)t.tv_sec * 1000000000LL + t.tv_nsec);
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, buf, n) != n || close(fd) != 0 || rename(tmp, argv[1]) != 0)
		return 1;
	pause();
	return 0;
}
