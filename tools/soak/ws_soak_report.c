/* ws_soak's checks and the counts it prints; see ws_soak.c. */
#include "ws_soak.h"

#include <stdio.h>
#include <stdlib.h>

void
record_lateness(int64_t ms)
{
	if (st.nlate == st.caplate) {
		st.caplate  = st.caplate ? 2 * st.caplate : 4096;
		st.lateness = realloc(st.lateness, st.caplate * sizeof(*st.lateness));
		if (st.lateness == NULL) {
			die("realloc");
		}
	}
	st.lateness[st.nlate++] = (int32_t) ms;
}

/* The pings each live connection saw, against its age over PING_MS (a
 * ping comes PING_MS after the last pong was read, so a little less). */
static struct {
	uint64_t total, off;
	uint32_t min, max;
	double   rmin, rmax;
} lp = { 0, 0, UINT32_MAX, 0, 1e9, 0 };

void
count_live_pings(int64_t now)
{
	for (int i = 0; i < opt.conns; i++) {
		wconn *c = &conns[i];
		if (c->kind != K_LIVE || c->state != S_OPEN) {
			continue;
		}
		double want = (double) (now - c->t_open) / (double) opt.ping_ms;
		double r    = want > 0 ? c->pings / want : 1;
		lp.total += c->pings;
		lp.min  = c->pings < lp.min ? c->pings : lp.min;
		lp.max  = c->pings > lp.max ? c->pings : lp.max;
		lp.rmin = r < lp.rmin ? r : lp.rmin;
		lp.rmax = r > lp.rmax ? r : lp.rmax;
		lp.off += c->pings + 1.0 < 0.95 * want || c->pings > want + 1.0;
	}
}

static int
cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *) a, y = *(const int32_t *) b;
	return (x > y) - (x < y);
}

static int32_t
pct(double p)
{
	return st.nlate ? st.lateness[(size_t) (p * (double) (st.nlate - 1))] : 0;
}

void
progress(const char *ph, int64_t since)
{
	int open = 0;
	for (int i = 0; i < opt.conns; i++) {
		open += conns[i].state == S_OPEN;
	}
	fprintf(stderr,
	    PROG ": %s %llds open=%d connecting=%d pongs=%llu echo_ok=%llu "
	    "idle_closes=%llu late=%llu errors=%llu\n",
	    ph, (long long) since / 1000, open, connecting,
	    (unsigned long long) st.pongs_sent, (unsigned long long) st.echo_ok,
	    (unsigned long long) st.idle_closes, (unsigned long long) st.idle_late,
	    (unsigned long long) (st.echo_bad + st.echo_timeout + st.unexpected +
	        st.bad_frames + st.live_closed + st.live_eof + st.connect_errors +
	        st.idle_missing));
}

bool
report(bool up, uint64_t echo_abandoned)
{
	bool pass;

	qsort(st.lateness, st.nlate, sizeof(*st.lateness), cmp_i32);
	printf("live_pings=%llu live_pings_min=%u live_pings_max=%u "
	       "live_ping_ratio_min=%.3f live_ping_ratio_max=%.3f live_pings_off=%llu\n",
	    (unsigned long long) lp.total, lp.min == UINT32_MAX ? 0 : lp.min, lp.max,
	    lp.rmin > lp.rmax ? 0 : lp.rmin, lp.rmax, (unsigned long long) lp.off);
	printf("echo_pings=%llu pongs_sent=%llu\n",
	    (unsigned long long) st.pings_echo, (unsigned long long) st.pongs_sent);
	printf("echo_sent=%llu echo_ok=%llu echo_abandoned_at_end=%llu echo_bad=%llu "
	       "echo_timeout=%llu unexpected=%llu bad_frames=%llu\n",
	    (unsigned long long) st.echo_sent, (unsigned long long) st.echo_ok,
	    (unsigned long long) echo_abandoned, (unsigned long long) st.echo_bad,
	    (unsigned long long) st.echo_timeout, (unsigned long long) st.unexpected,
	    (unsigned long long) st.bad_frames);
	printf("idle_closes=%llu idle_late=%llu idle_early=%llu idle_missing=%llu "
	       "idle_wrong_code=%llu idle_pings_odd=%llu\n",
	    (unsigned long long) st.idle_closes, (unsigned long long) st.idle_late,
	    (unsigned long long) st.idle_early, (unsigned long long) st.idle_missing,
	    (unsigned long long) st.idle_wrong_code, (unsigned long long) st.idle_pings_odd);
	printf("idle_close_after_timeout_ms: min=%d p50=%d p90=%d p99=%d max=%d\n",
	    pct(0), pct(0.5), pct(0.9), pct(0.99), pct(1));
	printf("close_to_eof_max_ms=%lld eof_slow=%llu\n", (long long) st.eof_max,
	    (unsigned long long) st.eof_slow);
	printf("live_closed=%llu live_eof=%llu connect_errors=%llu\n",
	    (unsigned long long) st.live_closed, (unsigned long long) st.live_eof,
	    (unsigned long long) st.connect_errors);
	printf("end_clean=%llu end_unclean=%llu\n", (unsigned long long) st.end_clean,
	    (unsigned long long) st.end_unclean);
	pass = up && lp.off == 0 && lp.total > 0 && st.echo_ok > 0 &&
	    st.echo_ok + echo_abandoned == st.echo_sent && st.echo_bad == 0 &&
	    st.echo_timeout == 0 && st.unexpected == 0 && st.bad_frames == 0 &&
	    st.idle_closes > 0 &&
	    st.idle_late == 0 && st.idle_early == 0 && st.idle_missing == 0 &&
	    st.idle_wrong_code == 0 && st.idle_pings_odd == 0 && st.eof_slow == 0 &&
	    st.live_closed == 0 && st.live_eof == 0 && st.connect_errors == 0 &&
	    st.end_unclean == 0;
	printf("result=%s\n", pass ? "PASS" : "FAIL");
	return pass;
}

