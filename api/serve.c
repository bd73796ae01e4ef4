/*
 * serve.c - `dynfs serve STORE [--listen ADDR] [--auth FILE]`: the API
 * without a mount.
 *
 * The main thread opens the store, starts the server and waits in
 * sigwait() for SIGTERM or SIGINT (blocked in every thread, so they are
 * taken synchronously), then stops the server — which finishes the
 * requests in flight — and closes the store, which writes a snapshot.
 * SIGUSR1 writes a snapshot without stopping, as for the mount.
 */
#include "apiint.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store.h"

static void usage(FILE *f)
{
	fputs("usage: dynfs serve STORE [--listen HOST:PORT] [--auth FILE] [--fsync always|batch|off]\n"
	      "                   [--threads N] [--timeout S] [--max-connections N]\n"
	      "\n"
	      "Serve the store in directory STORE over DynamoDB's API (default listen\n"
	      "address 127.0.0.1:8000) until SIGTERM or SIGINT; then close the store\n"
	      "cleanly (with a snapshot).  SIGUSR1 writes a snapshot.\n"
	      "\n"
	      "  --listen HOST:PORT  address to listen on; a non-loopback address needs --auth\n"
	      "  --auth FILE         verify SigV4 signatures: FILE has one\n"
	      "                      \"ACCESS_KEY_ID SECRET_ACCESS_KEY\" per line\n"
	      "  --fsync MODE        journal sync policy, as -o fsync= for the mount\n"
	      "  --threads N         worker threads (default 4)\n"
	      "  --timeout S         close a connection idle (or trickling) for S seconds (60)\n"
	      "  --max-connections N refuse connections beyond N (512)\n",
	      f);
}

static int parse_fsync(const char *s, enum store_fsync *out)
{
	if (!s || !strcmp(s, "always"))
		*out = STORE_FSYNC_ALWAYS;
	else if (!strcmp(s, "batch"))
		*out = STORE_FSYNC_BATCH;
	else if (!strcmp(s, "off"))
		*out = STORE_FSYNC_OFF;
	else
		return -1;
	return 0;
}

static void log_error(void *ctx, const char *what, const char *msg)
{
	fprintf(stderr, "dynfs: %s: %s\n", what, msg);
}

int api_serve_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"listen", required_argument, NULL, 'l'}, {"auth", required_argument, NULL, 'a'},
		{"fsync", required_argument, NULL, 'f'},  {"threads", required_argument, NULL, 't'},
		{"timeout", required_argument, NULL, 'T'}, {"max-connections", required_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'},	  {NULL, 0, NULL, 0},
	};
	struct api_opts ao = {.listen = "127.0.0.1:8000", .on_error = log_error};
	struct store_opts so = {.fsync = STORE_FSYNC_ALWAYS, .create = true};
	struct dyn_err err;
	store_t *st;
	db_t *db;
	api_t *a = NULL;
	sigset_t set;
	int c, sig, rc;

	optind = 2;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'l':
			ao.listen = optarg;
			break;
		case 'a':
			ao.auth_file = optarg;
			break;
		case 'f':
			if (parse_fsync(optarg, &so.fsync) < 0) {
				fprintf(stderr, "dynfs serve: --fsync %s: use always, batch or off\n",
					optarg);
				return 2;
			}
			break;
		case 't':
			ao.threads = (unsigned)atoi(optarg);
			break;
		case 'T':
			ao.timeout_s = (unsigned)atoi(optarg);
			break;
		case 'C':
			ao.max_conns = (unsigned)atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (mkdir(argv[optind], 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "dynfs serve: cannot create %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	err_clear(&err);
	rc = store_open(argv[optind], &so, &st, &db, &err);
	if (rc < 0) {
		fprintf(stderr, "dynfs serve: cannot open store %s: %s\n", argv[optind],
			err.code ? err.msg : strerror(-rc));
		return 1;
	}
	rc = api_new(db, &ao, &a, &err);
	if (rc == 0)
		rc = api_start(a, &err);
	if (rc < 0) {
		fprintf(stderr, "dynfs serve: %s\n", err.code ? err.msg : strerror(-rc));
		api_free(a);
		store_close(st, NULL);
		return 1;
	}
	fprintf(stderr, "dynfs: serving %s on http://%s\n", argv[optind], ao.listen);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig != SIGUSR1)
			break;
		err_clear(&err);
		if (store_snapshot(st, &err) < 0)
			fprintf(stderr, "dynfs: snapshot failed: %s\n", err.code ? err.msg : "error");
	}
	api_free(a);
	err_clear(&err);
	rc = store_close(st, &err);
	if (rc < 0) {
		fprintf(stderr, "dynfs: closing the store failed: %s\n", err.code ? err.msg : "error");
		return 1;
	}
	return 0;
}
