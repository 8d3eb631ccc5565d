// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * An unrelated busy process for the node-wide workloads of `make bench`
 * (tests/bench/bench.sh: busy_all_one, busy_all_matched; tests/bench/busy.sh)
 * (not part of sonde): write(2) one byte to /dev/null in a loop for SECONDS,
 * then print how many it made. Every such write passes through sonde's write
 * exit program, which must let it go at its first test when the process is not
 * observed.
 *
 *   busy SECONDS [START]
 *
 * START (seconds since the epoch, CLOCK_REALTIME, fractional): sleep until
 * then and stop at START + SECONDS, so that many processes started one after
 * the other write over the same stretch of time (one that starts late writes
 * for less). Without it, from its own start.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(clockid_t clk)
{
	struct timespec t;

	clock_gettime(clk, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 5;
	clockid_t clk = argc > 2 ? CLOCK_REALTIME : CLOCK_MONOTONIC;
	double start = argc > 2 ? atof(argv[2]) : now(clk), end = start + secs;
	int fd = open("/dev/null", O_WRONLY);
	unsigned long long n = 0;
	char c = 'x';

	if (fd < 0 || secs <= 0)
		return 1;
	if (argc > 2) {
		struct timespec ts = { .tv_sec = (time_t)start,
				       .tv_nsec = (long)((start - (time_t)start) * 1e9) };

		while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	}
	do {
		for (int i = 0; i < 1000; i++, n++)
			if (write(fd, &c, 1) != 1)
				return 1;
	} while (now(clk) < end);
	printf("%llu\n", n);
	return 0;
}
