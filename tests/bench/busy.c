// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * An unrelated busy process for tests/bench/busy.sh (not part of sonde): write(2)
 * one byte to /dev/null in a loop for SECONDS, then print how many it made. Every
 * such write passes through sonde's syscall tracepoint programs, which must let
 * it go at their first test when the process is not observed.
 *
 *   busy SECONDS
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 5;
	int fd = open("/dev/null", O_WRONLY);
	unsigned long long n = 0;
	struct timespec t0, t;
	char c = 'x';

	if (fd < 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		for (int i = 0; i < 1000; i++, n++)
			if (write(fd, &c, 1) != 1)
				return 1;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec + (t.tv_nsec - t0.tv_nsec) / 1e9 >= secs)
			break;
	}
	printf("%llu\n", n);
	return 0;
}
