/* check PATH SECONDS HAMMERS: HAMMERS processes force GETATTRs of PATH;
 * this one stats it from the cache and counts size/mtime pairs that do
 * not belong together. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int secs = atoi(argv[2]), h = atoi(argv[3]), i;
	pid_t kids[32];
	long n = 0, torn = 0, other = 0;
	struct statx sx;
	struct stat st;
	time_t end;

	for (i = 0; i < h && i < 32; i++)
		if (!(kids[i] = fork()))
			for (;;)
				statx(AT_FDCWD, argv[1], AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &sx);
	end = time(NULL) + secs;
	while (time(NULL) < end) {
		for (i = 0; i < 1000; i++) {
			if (stat(argv[1], &st))
				continue;
			n++;
			if ((st.st_size == 100 && st.st_mtime == 2000) ||
			    (st.st_size == 200 && st.st_mtime == 1000))
				torn++;
			else if (st.st_size != 100 && st.st_size != 200)
				other++;
		}
	}
	for (i = 0; i < h && i < 32; i++)
		kill(kids[i], SIGKILL);
	while (wait(NULL) > 0)
		;
	printf("stats %ld torn %ld other %ld\n", n, torn, other);
	return 0;
}
