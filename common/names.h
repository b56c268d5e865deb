/* The rule for names that end up in file names: stage names (a job file's
 * `name:`, checked when the job is submitted), the state files a checkpoint
 * lists (op-<stage>-<subtask>.state, checked by the checkpoint store before
 * any file is opened) and job ids. One rule, so that a name the job file
 * accepts never makes a checkpoint unusable:
 *
 *   1 to SL_NAME_MAX bytes of ASCII letters, digits, '_', '-' and '.';
 *   the first one a letter, a digit or '_'; no ".." anywhere.
 *
 * Such a name is one plain path component: never "." or "..", no '/', no
 * byte a shell or a URI would treat specially. Reentrant, no allocation. */
#ifndef SL_NAMES_H
#define SL_NAMES_H

#define SL_NAME_MAX 255 /* bytes of a name (a file name on every local file system) */

/* NULL if name follows the rule, else why not, as a phrase to put after
 * the name ("may not contain '..'"); a static string. NULL name: "is
 * empty". */
const char *sl_name_problem(const char *name);

/* 1 if name follows the rule, else 0. */
int sl_name_valid(const char *name);

#endif
