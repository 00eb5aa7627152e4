/*
 * caresync-worker: command line.
 *
 *   caresync-worker run [--config FILE]
 *   caresync-worker check [--config FILE]
 *   caresync-worker jobs show <job-id>
 *   caresync-worker dlq list | dlq replay <job-id>|--all
 *   caresync-worker replay --since T [--until T] [--type T] [--source S]
 *                          [--dry-run] [--limit N]
 *   caresync-worker erase --patient <source patient id | CRM contact id>
 *   caresync-worker audit verify | audit export --since T
 *   caresync-worker log [--level L] [--since T] [--count N]
 *   caresync-worker batch healthsherpa|hint-to-crm|crm-to-hint ...
 *   caresync-worker batch status|abort|report <batch-id>
 *   caresync-worker oauth healthsherpa url|exchange ...
 *   caresync-worker crypto status
 *   caresync-worker --help | --version
 *
 * The configuration: --config FILE, else CARESYNC_WORKER_CONFIG, else
 * CW_CONF_DEFAULT when it exists, else the built-in defaults (with the
 * CARESYNC_<SECTION>_<KEY> variables in every case).  --actor NAME names
 * who runs an operator command in the audit trail (default: the OS
 * user).  The manual is docs/caresync-worker.8; keep it in step with the
 * texts below.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "engine/cw_audit.h"
#include "engine/cw_config.h"
#include "engine/cw_log.h"
#include "ops/cw_ops.h"
#include "ops/cw_ops_audit.h"
#include "ops/cw_ops_batch.h"
#include "ops/cw_ops_crypto.h"
#include "ops/cw_ops_erase.h"
#include "ops/cw_ops_hint.h"
#include "ops/cw_ops_replay.h"
#include "cw_worker.h"


#ifndef CW_VERSION
#define CW_VERSION  "unknown"
#endif

#ifndef CW_CONF_DEFAULT
#define CW_CONF_DEFAULT  "/etc/caresync/worker.conf"
#endif


/* A command: its words in --help and the manual, and what runs it. */
typedef struct {
    const char  *name;
    const char  *usage;      /* lines after "caresync-worker ", '\n'-separated */
    const char  *help;
    const char  *options;    /* the command's own options, or NULL */
    int          max_args;   /* -1: the command checks its arguments */
    int        (*run)(const cw_conf_t *conf, int argc, char **argv);
} cw_cmd_t;

static int cw_main_run(const cw_conf_t *conf, int argc, char **argv);
static int cw_main_check(const cw_conf_t *conf, int argc, char **argv);
static int cw_main_batch(const cw_conf_t *conf, int argc, char **argv);

static const cw_cmd_t  cw_cmds[] = {
    { "run", "run",
      "Consume jobs from {prefix}:jobs (consumer group `workers`) until\n"
      "SIGTERM or SIGINT; then stop reading, let in-flight jobs finish\n"
      "within worker.shutdown_deadline_ms, and leave the rest pending for\n"
      "another worker to reclaim.  Redis down is waited for, not fatal.\n"
      "Logs go to stderr (the journal under systemd).",
      NULL, 0,
      cw_main_run },

    { "check", "check",
      "Validate the configuration (every problem, with file and line),\n"
      "reach Redis and report the stream and its group, then authenticate\n"
      "against each configured API (Salesforce, Hint, HealthSherpa).  One\n"
      "line per target, `ok` or `FAIL <what to fix>`.",
      NULL, 0,
      cw_main_check },

    { "jobs", "jobs show <job-id>",
      "Print a job's status record ({prefix}:job:<job-id>): status, type,\n"
      "attempts, message, last_error, the ids it wrote, and the time left\n"
      "before the record expires.  The job id: the `job_id` of an\n"
      "action's answer, or one that `log` or `dlq list` printed.",
      NULL, -1,
      cw_ops_jobs },

    { "dlq", "dlq list\ndlq replay <job-id> | --all",
      "list: the dead-letter queue ({prefix}:dead), oldest first, one job\n"
      "a line with its type, attempts, time of failure and last error;\n"
      "the number of jobs waiting for a retry goes to stderr.\n"
      "replay: put the job (or every job) back on the queue with its\n"
      "attempts reset, and remove it from the dead-letter queue, in one\n"
      "transaction.  Fix the cause first (`log --level error`).",
      NULL, -1,
      cw_ops_dlq },

    { "replay",
      "replay --since T [--until T] [--type T] [--source S] [--dry-run] "
      "[--limit N]",
      "Queue again the processed jobs of the archive ({prefix}:archive,\n"
      "kept retention.archive_s) and the dead jobs ({prefix}:dead) that\n"
      "ended between --since and --until, as they were first queued, with\n"
      "attempts reset and `replay_of` naming where each came from.  They\n"
      "run as any job: a job already applied writes nothing.  Prints each\n"
      "job id, then the count; a dead job leaves the dead-letter queue.",
      "  --since T          jobs that ended from T: ISO-8601 or a duration\n"
      "                     back from now (90s, 15m, 2h, 1d); required\n"
      "  --until T          ... up to T (default: now)\n"
      "  --type T           only jobs of type T (helparound.enrollment ...)\n"
      "  --source S         only jobs from source S (helparound, hint, crm)\n"
      "  --dry-run          print what would be queued, queue nothing\n"
      "  --limit N          queue at most N (default 10000; it says where\n"
      "                     it stopped)\n",
      -1,
      cw_ops_replay },

    { "erase", "erase --patient <source patient id | CRM contact id>",
      "Remove everything caresync holds in Redis about one patient: its\n"
      "queued, retrying, parked, archived and dead jobs, their dedupe\n"
      "marks, status records and timelines, batch rows naming the id, the\n"
      "patient's keys (lock, wait, last, index, media) and the log's lines.\n"
      "Prints what it removed, by kind and count.  Sealed jobs are opened\n"
      "with crypto.keys to find the patient; one that cannot be opened is\n"
      "kept and counted (`kept unreadable N`, exit 3).  Refuses, removing\n"
      "nothing, while a job for the patient runs.  Never touches the CRM\n"
      "or the vendors.  The audit trail records the erasure with the\n"
      "SHA-256 of the id.",
      "  --patient ID       a source patient id (ha..., pat-...) or a CRM\n"
      "                     contact id\n",
      -1,
      cw_ops_erase },

    { "audit", "audit verify\naudit export --since T",
      "The audit trail ({prefix}:audit): every CRM or vendor write a job\n"
      "made (job, target, record, the names of the fields) and every\n"
      "operator action, each entry chained to the one before by SHA-256.\n"
      "verify: check the whole chain; exit 1 at the first break, naming\n"
      "  the entry.\n"
      "export: the entries from T as JSON lines, for a SIEM.",
      "  --since T          ISO-8601 or a duration back from now\n",
      -1,
      cw_ops_audit },

    { "log", "log [--level debug|error|exception] [--since T] [--count N]",
      "Print the sync log ({prefix}:log), oldest first.",
      "  --level L          entries at or above L (debug < error < exception)\n"
      "  --since T          from T: ISO-8601 (2026-11-21T10:00:00Z) or a\n"
      "                     duration back from now (90s, 15m, 2h, 1d)\n"
      "  --count N          at most N entries\n",
      -1,
      cw_ops_log },

    { "batch",
      "batch healthsherpa --csv FILE | --where COND [--agent EMAIL]\n"
      "batch hint-to-crm\n"
      "batch crm-to-hint --csv FILE\n"
      "batch status | abort | report <batch-id>",
      "Queue a batch and follow it; each prints the batch id.\n"
      "healthsherpa: \"Sync from HealthSherpa\" for every contact id in\n"
      "  the first column of FILE (a Salesforce report export), or of\n"
      "  SELECT Id FROM Contact WHERE COND.\n"
      "hint-to-crm: every Hint patient into Salesforce.\n"
      "crm-to-hint: link the contacts of FILE to Hint patients.\n"
      "status: counts and done/total (redrawn on a terminal until done).\n"
      "abort: items not started yet end `skipped`.\n"
      "report: per-contact results as CSV on stdout.",
      "  --csv FILE         a Salesforce report export (CSV); ids in column 1\n"
      "  --where COND       a SOQL condition on Contact\n"
      "  --agent EMAIL      the HealthSherpa agent (default:\n"
      "                     healthsherpa.agent_email)\n",
      -1,
      cw_main_batch },

    { "oauth",
      "oauth healthsherpa url <agent>\n"
      "oauth healthsherpa exchange <agent> <code> <state>",
      "HealthSherpa v2 (healthsherpa.version = 2) login of an agent.\n"
      "url: print the agent's login URL; the agent opens it and comes back\n"
      "  to healthsherpa.redirect_uri with a `code` and a `state`.\n"
      "exchange: trade that code for the agent's tokens, stored encrypted\n"
      "  with healthsherpa.token_key.  The state must be the one the URL\n"
      "  was given, for the same agent, within 10 minutes, and works once.\n"
      "  No token is printed.",
      NULL, -1,
      cw_ops_oauth },

    { "crypto", "crypto status\ncrypto rotate",
      "status: how many jobs each key id of the job key ring still\n"
      "protects, counted where jobs are kept in Redis: the queue, the\n"
      "retry set, parked jobs, the dead-letter queue and the archive.\n"
      "One line per key id: its state (current: seals new jobs at the\n"
      "edge; ring: in crypto.keys; MISSING: not in crypto.keys, its jobs\n"
      "cannot be opened), the total and the counts by place; `clear`\n"
      "counts jobs in the clear.  A key whose total is 0 can be dropped\n"
      "(docs/operations.md, \"Rotating the job key\").  Nothing is opened\n"
      "or printed but key ids and counts.\n"
      "rotate: record the key ring of this configuration in the audit\n"
      "trail, by --actor or the OS user: the key ids added and retired\n"
      "since the ring last recorded, and the status counts.  Run it with\n"
      "the new crypto.keys before restarting the workers (a worker that\n"
      "starts with a ring nobody recorded records it itself).  Refused\n"
      "while a key it drops still protects a job.",
      NULL, -1,
      cw_ops_crypto },
};

#define CW_NCMDS  (sizeof(cw_cmds) / sizeof(cw_cmds[0]))


static const char  cw_common_options[] =
    "  -c, --config FILE  the configuration (default: $CARESYNC_WORKER_CONFIG,\n"
    "                     else " CW_CONF_DEFAULT " if it exists)\n"
    "  --actor NAME       who runs an operator command, for the audit\n"
    "                     trail (default: the OS user)\n"
    "  -h, --help         this help\n";

static const char  cw_exit_status[] =
    "Exit status: 0 success, 1 failure (the message says what to fix),\n"
    "2 usage error, 3 erase kept sealed jobs it could not open.\n"
    "Manual: man caresync-worker (caresync-worker(8)).\n";


/* the usage lines of a command: `first` then `rest` before each */
static void
cw_usage_lines(FILE *f, const char *first, const char *rest,
    const char *usage)
{
    const char  *p, *nl;
    const char  *lead = first;

    for (p = usage; *p; p = nl + 1) {
        nl = strchr(p, '\n');
        if (nl == NULL) {
            nl = p + strlen(p);
        }

        fprintf(f, "%s%.*s\n", lead, (int) (nl - p), p);
        lead = rest;

        if (*nl == '\0') {
            break;
        }
    }
}


static void
cw_usage(FILE *f)
{
    size_t  i;

    fprintf(f, "usage: caresync-worker <command> [arguments] "
            "[--config FILE]\n"
            "       caresync-worker --help | --version\n\n"
            "Syncs the jobs that the caresync nginx module queues in Redis "
            "with\nSalesforce, Hint and HealthSherpa.\n\ncommands:\n");

    for (i = 0; i < CW_NCMDS; i++) {
        cw_usage_lines(f, "  ", "  ", cw_cmds[i].usage);
    }

    fprintf(f, "\noptions:\n%s  -V, --version      print the version\n\n"
            "`caresync-worker <command> --help` for a command's details.\n"
            "%s", cw_common_options, cw_exit_status);
}


static const cw_cmd_t *
cw_cmd(const char *name)
{
    size_t  i;

    for (i = 0; i < CW_NCMDS; i++) {
        if (strcmp(cw_cmds[i].name, name) == 0) {
            return &cw_cmds[i];
        }
    }

    return NULL;
}


static int
cw_help(const char *cmd)
{
    const cw_cmd_t  *c = cw_cmd(cmd);

    if (c) {
        cw_usage_lines(stdout, "usage: caresync-worker ",
                       "       caresync-worker ", c->usage);
        printf("\n%s\n\noptions:\n%s%s\n%s", c->help,
               c->options ? c->options : "", cw_common_options,
               cw_exit_status);
        return 0;
    }

    fprintf(stderr, "caresync-worker: no command `%s`\n\n", cmd);
    cw_usage(stderr);
    return 2;
}


static int
cw_main_run(const cw_conf_t *conf, int argc, char **argv)
{
    return cw_run(conf);
}


static int
cw_main_check(const cw_conf_t *conf, int argc, char **argv)
{
    return cw_ops_check(conf);
}


/* batch hint-to-crm | crm-to-hint are Hint's; every other kind is generic */
static int
cw_main_batch(const cw_conf_t *conf, int argc, char **argv)
{
    if (argc > 0 && cw_ops_hint_kind(argv[0])) {
        return cw_ops_hint_batch(conf, argc, argv);
    }

    return cw_ops_batch(conf, argc, argv);
}


int
main(int argc, char **argv)
{
    int           i, n, rc;
    char          err[4096];
    char         *args[16];
    const char   *config = NULL, *cmd;
    cw_conf_t     conf;
    const cw_cmd_t  *c;

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

    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0
        || strcmp(cmd, "version") == 0)
    {
        printf("caresync-worker %s\n", CW_VERSION);
        return 0;
    }

    c = cw_cmd(cmd);

    if (c == NULL) {
        fprintf(stderr, "caresync-worker: unknown command `%s`; the commands "
                "are listed below\n\n", cmd);
        cw_usage(stderr);
        return 2;
    }

    /* --config anywhere; the rest are the command's own arguments */
    n = 0;
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            return cw_help(cmd);
        }

        if (strcmp(argv[i], "--actor") == 0) {
            if (i + 1 >= argc || argv[i + 1][0] == '\0') {
                fprintf(stderr, "caresync-worker: --actor needs a name: "
                        "caresync-worker %s --actor NAME\n", cmd);
                return 2;
            }
            cw_audit_set_actor(argv[++i]);
            continue;
        }

        if (strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "caresync-worker: %s needs a file: "
                        "caresync-worker %s --config FILE\n", argv[i], cmd);
                return 2;
            }
            config = argv[++i];
            continue;
        }

        if (n == 15) {
            fprintf(stderr, "caresync-worker: too many arguments; see "
                    "`caresync-worker %s --help`\n", cmd);
            return 2;
        }

        args[n++] = argv[i];
    }

    args[n] = NULL;

    if (c->max_args >= 0 && n > c->max_args) {
        fprintf(stderr, "caresync-worker: %s takes no argument `%s` (only "
                "--config FILE); see `caresync-worker %s --help`\n", cmd,
                args[0], cmd);
        return 2;
    }

    if (config == NULL) {
        config = getenv("CARESYNC_WORKER_CONFIG");
    }

    if (config == NULL && access(CW_CONF_DEFAULT, F_OK) == 0) {
        config = CW_CONF_DEFAULT;
    }

    if (cw_conf_load(&conf, config, err, sizeof(err)) != 0) {
        fprintf(stderr, "caresync-worker: configuration errors:\n%s"
                "Fix them (the keys: caresync-worker(8)), then check with "
                "`caresync-worker check%s%s`.\n", err,
                config ? " --config " : "", config ? config : "");
        cw_conf_free(&conf);
        return 1;
    }

    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = c->run(&conf, n, args);
    curl_global_cleanup();
    cw_conf_free(&conf);
    return rc;
}
