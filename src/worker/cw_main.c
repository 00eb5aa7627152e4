/*
 * caresync-worker: command line.
 *
 *   caresync-worker run --config FILE
 *   caresync-worker check --config FILE
 *   caresync-worker jobs show <id> --config FILE
 *   caresync-worker dlq list | dlq replay <id>|--all --config FILE
 *   caresync-worker log [--level L] [--since T] --config FILE
 *
 * --config may also come from CARESYNC_WORKER_CONFIG.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cw_config.h"
#include "cw_log.h"
#include "cw_ops.h"
#include "cw_ops_batch.h"
#include "cw_ops_hint.h"
#include "cw_worker.h"


typedef struct {
    const char  *name;
    const char  *usage;
    const char  *help;
} cw_cmd_help_t;

static const cw_cmd_help_t  cw_cmds[] = {
    { "run", "run --config FILE",
      "Consume jobs until SIGTERM/SIGINT; then finish in-flight jobs\n"
      "within worker.shutdown_deadline_ms and leave the rest pending for\n"
      "another worker to reclaim." },
    { "check", "check --config FILE",
      "Validate the configuration, reach Redis (and the consumer group),\n"
      "then authenticate against each configured API.  Exit status 0\n"
      "when everything answered, 1 otherwise, one line per problem." },
    { "jobs", "jobs show <job-id> --config FILE",
      "Print a job's status record ({prefix}:job:<id>)." },
    { "dlq", "dlq list | dlq replay <job-id>|--all --config FILE",
      "list: the dead-letter queue, oldest first, one job a line with its\n"
      "last error.  replay: put the job(s) back on the queue with their\n"
      "attempts reset, and remove them from the dead-letter queue." },
    { "log", "log [--level debug|error|exception] [--since T] "
      "[--count N] --config FILE",
      "Print the sync log ({prefix}:log), oldest first, entries at or\n"
      "above the level.  T is ISO-8601 (2026-11-21T10:00:00Z) or a\n"
      "duration back from now (90s, 15m, 2h, 1d)." },
    /* issue 6 */
    { "batch", "batch healthsherpa --csv FILE | --where COND [--agent EMAIL]"
      " | batch status|abort|report <id> --config FILE",
      "healthsherpa: queue a \"Sync from HealthSherpa\" of every contact id\n"
      "in the first column of FILE (a Salesforce report export), or of\n"
      "SELECT Id FROM Contact WHERE COND.\n"
      "status: counts by status and done/total (a live line on a terminal).\n"
      "abort: items not started yet end `skipped`.  report: per-contact\n"
      "results as CSV." },
    { "oauth", "oauth healthsherpa url <agent> | oauth healthsherpa "
      "exchange <agent> <code> --config FILE",
      "HealthSherpa v2 login of an agent: print the login URL, or trade\n"
      "the authorization code for the agent's tokens (stored encrypted)." },
};

#define CW_NCMDS  (sizeof(cw_cmds) / sizeof(cw_cmds[0]))


static void
cw_usage(FILE *f)
{
    size_t  i;

    fprintf(f, "usage: caresync-worker <command> [args] --config FILE\n\n"
            "commands:\n");

    for (i = 0; i < CW_NCMDS; i++) {
        fprintf(f, "  %s\n", cw_cmds[i].usage);
    }

    fprintf(f, "\n`caresync-worker <command> --help` for details; the "
            "configuration is described in docs/worker.md.\n");
}


static int
cw_help(const char *cmd)
{
    size_t  i;

    for (i = 0; i < CW_NCMDS; i++) {
        if (strcmp(cw_cmds[i].name, cmd) == 0) {
            printf("usage: caresync-worker %s\n\n%s\n", cw_cmds[i].usage,
                   cw_cmds[i].help);
            return 0;
        }
    }

    cw_usage(stdout);
    return 0;
}


int
main(int argc, char **argv)
{
    int           i, n, rc;
    char          err[4096];
    char         *args[16];
    const char   *config = NULL, *cmd;
    cw_conf_t     conf;

    if (argc < 2) {
        cw_usage(stderr);
        return 2;
    }

    cmd = argv[1];

    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0
        || strcmp(cmd, "help") == 0)
    {
        if (argc > 2) {
            return cw_help(argv[2]);
        }
        cw_usage(stdout);
        return 0;
    }

    /* --config anywhere; the rest are the command's own arguments */
    n = 0;
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            return cw_help(cmd);
        }

        if (strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "caresync-worker: --config needs a file\n");
                return 2;
            }
            config = argv[++i];
            continue;
        }

        if (n < 15) {
            args[n++] = argv[i];
        }
    }

    args[n] = NULL;

    for (i = 0; i < (int) CW_NCMDS; i++) {
        if (strcmp(cw_cmds[i].name, cmd) == 0) {
            break;
        }
    }

    if (i == (int) CW_NCMDS) {
        fprintf(stderr, "caresync-worker: unknown command `%s`\n\n", cmd);
        cw_usage(stderr);
        return 2;
    }

    if (config == NULL) {
        config = getenv("CARESYNC_WORKER_CONFIG");
    }

    if (cw_conf_load(&conf, config, err, sizeof(err)) != 0) {
        fprintf(stderr, "caresync-worker: configuration errors:\n%s", err);
        cw_conf_free(&conf);
        return 1;
    }

    curl_global_init(CURL_GLOBAL_DEFAULT);

    if (strcmp(cmd, "run") == 0) {
        rc = cw_run(&conf);

    } else if (strcmp(cmd, "check") == 0) {
        rc = cw_ops_check(&conf);

    } else if (strcmp(cmd, "jobs") == 0) {
        rc = cw_ops_jobs(&conf, n, args);

    } else if (strcmp(cmd, "dlq") == 0) {
        rc = cw_ops_dlq(&conf, n, args);

    } else if (strcmp(cmd, "batch") == 0 && n > 0
               && cw_ops_hint_kind(args[0]))
    {
        /* issue 7: batch hint-to-crm | crm-to-hint --csv FILE */
        rc = cw_ops_hint_batch(&conf, n, args);

    } else if (strcmp(cmd, "batch") == 0) {
        rc = cw_ops_batch(&conf, n, args);

    } else if (strcmp(cmd, "oauth") == 0) {
        rc = cw_ops_oauth(&conf, n, args);

    } else {
        rc = cw_ops_log(&conf, n, args);
    }

    curl_global_cleanup();
    cw_conf_free(&conf);
    return rc;
}
