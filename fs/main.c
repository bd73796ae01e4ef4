/* main.c - placeholder until the filesystem layer lands. */
#include <stdio.h>

int main(int argc, char **argv)
{
	(void)argc;
	fprintf(stderr, "usage: %s STORE MOUNTPOINT [-f] [-d] [-o opt,...]\n", argv[0]);
	return 2;
}
