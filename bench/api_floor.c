/*
 * api_floor.c - the HTTP floor of bench/api_bench.sh: libmicrohttpd,
 * configured as dynfs's API server is (api/http.c: internal epoll
 * threads, turbo, a pool of 4 threads), reading each POST body to the end
 * and answering `{}` with DynamoDB's content type, doing no other work.
 * What dynfs serves beyond this rate is the cost of the API and engine.
 *
 * Usage: api_floor PORT [THREADS]   (listens on 127.0.0.1; stops on SIGTERM)
 */
#include <microhttpd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *data,
			       size_t *size, void **state)
{
	static int first;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (!*state) { /* headers only: ask for the body */
		*state = &first;
		return MHD_YES;
	}
	if (*size) { /* a piece of the body: consume it */
		*size = 0;
		return MHD_YES;
	}
	resp = MHD_create_response_from_buffer(2, (void *)"{}", MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/x-amz-json-1.0");
	ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa;
	struct MHD_Daemon *d;
	sigset_t set;
	int sig;

	if (argc < 2) {
		fprintf(stderr, "usage: api_floor PORT [THREADS]\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO, 0,
			     NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
			     MHD_OPTION_THREAD_POOL_SIZE,
			     (unsigned)(argc > 2 ? atoi(argv[2]) : 4), MHD_OPTION_CONNECTION_LIMIT,
			     512u, MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "api_floor: cannot listen on port %s\n", argv[1]);
		return 1;
	}
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	return 0;
}
