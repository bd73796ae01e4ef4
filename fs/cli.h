/*
 * cli.h - the `dynfs import` and `dynfs export` subcommands (SPEC §7):
 * converting between a store and DynamoDB JSON Lines, plain JSON Lines of
 * document items, and Hedy's dev_database.json (docs/formats.md).
 *
 * fs/main.c dispatches here when argv[1] is "import" or "export"; the
 * subcommands open the store themselves (taking its lock, so they refuse a
 * store that is mounted read-write) and never start FUSE.
 */
#ifndef DYNFS_CLI_H
#define DYNFS_CLI_H

/*
 * Run `dynfs import ...` or `dynfs export ...`: argv[0] is the program,
 * argv[1] the subcommand.  Returns the process exit status: 0 on success,
 * 1 on failure (a message on stderr), 2 for a usage error.
 */
int cli_main(int argc, char **argv);

#endif
