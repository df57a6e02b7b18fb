/* SPDX-License-Identifier: GPL-2.0 */
/*
 * log.h - one line per event on stderr, key=value fields, so logs grep and
 * ship well: "level=info event=applied generation=7 epoch=3 writes=12".
 */
#ifndef NANAMI_LIB_LOG_H
#define NANAMI_LIB_LOG_H

enum nn_log_level {
	NN_LOG_ERR = 0,
	NN_LOG_WARN = 1,
	NN_LOG_INFO = 2,
	NN_LOG_DEBUG = 3,
};

void nn_log_set_level(enum nn_log_level lvl);
enum nn_log_level nn_log_get_level(void);

void nn_log(enum nn_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Route libbpf's own messages through nn_log (debug ones only with -v). */
void nn_log_libbpf(void);

#define nn_log_err(...) nn_log(NN_LOG_ERR, __VA_ARGS__)
#define nn_log_warn(...) nn_log(NN_LOG_WARN, __VA_ARGS__)
#define nn_log_info(...) nn_log(NN_LOG_INFO, __VA_ARGS__)
#define nn_log_debug(...) nn_log(NN_LOG_DEBUG, __VA_ARGS__)

#endif /* NANAMI_LIB_LOG_H */
