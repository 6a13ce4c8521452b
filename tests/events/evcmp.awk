# tests/events/evcmp.awk - compare two evrec -t recordings, operation by
# operation, and print a PASS/FAIL table.
#
#   awk -f evcmp.awk -v mode=presence|sequence|exact [-v deadline_ms=1000] \
#       [-v ref_name=backing -v view_name=mount] OPS REF VIEW
#
# OPS has one line per operation: `NAME KINDS`. Every operation works only
# under its own top-level directory NAME, so an event's first path
# component says which operation caused it. KINDS is `all`, or `create`
# when only creations can be compared (see conformance.sh, fresh-subdir).
#
# Only the events a watcher acts on are compared: IN_CREATE, IN_DELETE,
# IN_MODIFY, IN_ATTRIB, IN_MOVED_FROM, IN_MOVED_TO and IN_CLOSE_WRITE, each
# with its IN_ISDIR. Left out on purpose, on both sides:
#   IN_OPEN, IN_ACCESS, IN_CLOSE_NOWRITE  readers' traffic: the recorders'
#       own directory listings, the `ls -lR` that warms the mount, and the
#       open() a kernel-native replay does before it truncates. Harmless: no
#       watcher treats an open or a read as a change.
#   IN_DELETE_SELF, IN_MOVE_SELF, IN_IGNORED  raised on a watch itself, so
#       they depend on which watches a recorder happened to hold; the
#       removal or rename is already compared through its parent's event.
# Any other extra event on the view side fails: a spurious creation,
# removal or change makes a watcher rebuild or lose track of a file.
#
# presence: every (path, kind) of REF must appear in VIEW no later than
#   deadline_ms after it appeared in REF; counts are not compared, because
#   inotify merges an event into an identical one still unread, so how many
#   IN_MODIFY a writer yields depends on when its reader ran.
# sequence: per path, the ordered list of kinds must be the same on both
#   sides (same multiset, same order), after merging runs of IN_MODIFY for
#   the reason above. Duplicates (a server echo replayed) fail.
# exact: as sequence, with IN_OPEN of files compared too (what a program
#   doing the change raises, and what a replay must not add), and renames
#   paired: the recordings come from `evrec -t -c`, and each IN_MOVED_FROM
#   and IN_MOVED_TO is compared with the path of its partner of the same
#   cookie, or as lone (a move into or out of the watched tree).
#
# -v xfail="OP ...": operations known to differ (sequence and exact modes):
# their difference shows as XFAIL and passes; should one match, it shows
# as XPASS and fails, so that the list is kept true.
#
# Exit 0 when every operation passes, 1 otherwise.

BEGIN {
	if (deadline_ms == "")
		deadline_ms = 1000
	if (ref_name == "")
		ref_name = "reference"
	if (view_name == "")
		view_name = "view"
	if (mode != "presence" && mode != "sequence" && mode != "exact") {
		print "evcmp: mode must be presence, sequence or exact" > "/dev/stderr"
		bad_usage = 1
		exit 2
	}
	n_compared = split("IN_CREATE IN_DELETE IN_MODIFY IN_ATTRIB IN_MOVED_FROM IN_MOVED_TO IN_CLOSE_WRITE", k, " ")
	for (i = 1; i <= n_compared; i++)
		compared[k[i]] = 1
	max_listed = 12
	nx = split(xfail, xf, " ")
	for (i = 1; i <= nx; i++)
		xfailing[xf[i]] = 1
}

FNR == 1 { file++ }

file == 1 {
	if (NF >= 1) {
		nops++
		op_name[nops] = $1
		op_kinds[$1] = NF >= 2 ? $2 : "all"
	}
	next
}

# Lines: TIME PATH MASK; PATH may hold spaces.
$1 == "READY" || NF < 3 { next }

{
	side = file == 2 ? "ref" : "view"
	ts = $1 + 0
	path = $0
	sub(/^[^ ]+ /, "", path)
	if (mode == "exact") {
		cookie = $NF
		mask = $(NF - 1)
		sub(/ [^ ]+$/, "", path)
	} else {
		mask = $NF
	}
	sub(/ [^ ]+$/, "", path)
	op = path
	sub(/\/.*/, "", op)
	if (!(op in op_kinds))
		next
	nm = split(mask, parts, "|")
	kind = ""
	isdir = 0
	for (i = 1; i <= nm; i++) {
		if (parts[i] in compared)
			kind = parts[i]
		else if (parts[i] == "IN_ISDIR")
			isdir = 1
		else if (parts[i] == "IN_OPEN" && mode == "exact")
			opened = 1
	}
	# Directories are opened by the recorders' own listings.
	if (kind == "" && opened && !isdir)
		kind = "IN_OPEN"
	opened = 0
	if (kind == "")
		next
	if (op_kinds[op] == "create" && kind != "IN_CREATE")
		next
	if (isdir)
		kind = kind "|IN_ISDIR"
	key = path " " kind
	if (mode == "exact") {
		# Kept in order until every rename's partner is known.
		n = ++nev[side]
		ev_op[side, n] = op
		ev_path[side, n] = path
		ev_kind[side, n] = kind
		ev_cookie[side, n] = cookie
		if (cookie != 0 && kind ~ /^IN_MOVED_/)
			mover[side, cookie, kind] = path
		next
	}
	if (mode == "presence") {
		if (!((side, key) in first)) {
			first[side, key] = ts
			n = ++nkeys[side, op]
			keys[side, op, n] = key
		}
	} else {
		add_seq(side, op, path, kind)
	}
}

# Add one event to its path's sequence (sequence and exact modes).
function add_seq(side, op, path, kind,    n) {
	if (!((side, path) in seq)) {
		n = ++npaths[side, op]
		paths[side, op, n] = path
		seq[side, path] = ""
		last[side, path] = ""
	}
	# inotify merges an unread event into an identical last one.
	if (kind == "IN_MODIFY" && last[side, path] == kind)
		return
	seq[side, path] = seq[side, path] (seq[side, path] == "" ? "" : " ") kind
	last[side, path] = kind
}

# exact: every event into the sequences, renames named by their partner.
function exact_seqs(side,    i, k, c, other) {
	for (i = 1; i <= nev[side]; i++) {
		k = ev_kind[side, i]
		c = ev_cookie[side, i]
		if (k ~ /^IN_MOVED_/) {
			other = k ~ /^IN_MOVED_FROM/ ? "IN_MOVED_TO" : "IN_MOVED_FROM"
			if (k ~ /IN_ISDIR/)
				other = other "|IN_ISDIR"
			if (c != 0 && (side, c, other) in mover)
				k = k (other ~ /^IN_MOVED_TO/ ? "(to " : "(from ") mover[side, c, other] ")"
			else
				k = k "(lone)"
		}
		add_seq(side, ev_op[side, i], ev_path[side, i], k)
	}
}

function listed(op, text) {
	nlisted[op]++
	if (nlisted[op] <= max_listed)
		detail[op] = detail[op] "    " text "\n"
}

function presence_op(op,    n, i, key, dt, seen, late, missing, extra, maxdt, result) {
	n = nkeys["ref", op]
	seen = late = missing = extra = 0
	maxdt = 0
	for (i = 1; i <= n; i++) {
		key = keys["ref", op, i]
		if (!(("view", key) in first)) {
			missing++
			listed(op, "missing: " key)
			continue
		}
		dt = (first["view", key] - first["ref", key]) / 1000
		if (dt > maxdt)
			maxdt = dt
		if (dt > deadline_ms) {
			late++
			listed(op, sprintf("late:    %s (%.0f ms)", key, dt))
		} else {
			seen++
		}
	}
	for (i = 1; i <= nkeys["view", op]; i++) {
		key = keys["view", op, i]
		if (!(("ref", key) in first)) {
			extra++
			listed(op, "extra:   " key)
		}
	}
	result = (missing || late || extra || n == 0) ? "FAIL" : "PASS"
	if (n == 0)
		listed(op, "no events recorded on the " ref_name " side: the harness is broken")
	printf "%-24s %6d %6d %6d %8d %6d %8.1f  %s\n", op, n, seen, late, missing, extra, maxdt, result
	return result == "PASS"
}

function sequence_op(op,    i, p, all, order, cnt, bad, r, v, result) {
	cnt = 0
	for (i = 1; i <= npaths["ref", op]; i++) {
		p = paths["ref", op, i]
		if (!(p in all)) { all[p] = 1; order[++cnt] = p }
	}
	for (i = 1; i <= npaths["view", op]; i++) {
		p = paths["view", op, i]
		if (!(p in all)) { all[p] = 1; order[++cnt] = p }
	}
	bad = 0
	for (i = 1; i <= cnt; i++) {
		p = order[i]
		r = (("ref", p) in seq) ? seq["ref", p] : "-"
		v = (("view", p) in seq) ? seq["view", p] : "-"
		if (r != v) {
			bad++
			listed(op, p ":\n        " ref_name ": " r "\n        " view_name ": " v)
		}
	}
	result = (bad || cnt == 0) ? "FAIL" : "PASS"
	if (cnt == 0)
		listed(op, "no events recorded: the harness is broken")
	if (op in xfailing)
		result = result == "PASS" ? "XPASS" : "XFAIL"
	printf "%-24s %6d %9d  %s\n", op, cnt, bad, result
	return result == "PASS" || result == "XFAIL"
}

END {
	if (bad_usage)
		exit 2
	if (mode == "exact") {
		exact_seqs("ref")
		exact_seqs("view")
	}
	if (mode == "presence")
		printf "%-24s %6s %6s %6s %8s %6s %8s  %s\n", "operation", "events", "seen", "late", "missing", "extra", "max-ms", "result"
	else
		printf "%-24s %6s %9s  %s\n", "operation", "paths", "differing", "result"
	passed = 0
	for (o = 1; o <= nops; o++) {
		op = op_name[o]
		if (mode == "presence")
			passed += presence_op(op)
		else
			passed += sequence_op(op)
	}
	printf "%d of %d operations pass\n", passed, nops
	for (o = 1; o <= nops; o++) {
		op = op_name[o]
		if (!(op in detail))
			continue
		printf "  %s:\n%s", op, detail[op]
		if (nlisted[op] > max_listed)
			printf "    ... and %d more\n", nlisted[op] - max_listed
	}
	exit passed == nops ? 0 : 1
}
