/*
 * caresync-worker: the command line's table (cw_main.c), as the commands
 * see it.
 */

#ifndef CW_MAIN_H
#define CW_MAIN_H

/*
 * A usage error of command `cmd`: its usage lines from the command table
 * (the ones --help and the manual print) on stderr, and where the details
 * are.  Returns 2, the exit status of a usage error.
 */
int cw_cmd_usage(const char *cmd);

#endif /* CW_MAIN_H */
