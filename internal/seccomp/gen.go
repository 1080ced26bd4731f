package seccomp

import (
	"cmp"
	"maps"
	"slices"
)

// The filter's shape:
//
//	ld   arch
//	jeq  AUDIT_ARCH_<a>, section a        one per audit architecture
//	ret  KILL_THREAD                       unlisted architecture (libseccomp's default)
//	section a:
//	  ld   nr
//	  binary search on nr over intervals  ~log2(intervals) jumps, not one per syscall
//	  argument blocks                      conditional rules, strictest first
//	  ret  ...                             one per distinct return value
//
// x86_64 and x32 share AUDIT_ARCH_X86_64 and so one section: x32 numbers
// carry bit 30, so one search covers both.

// badArchRet is libseccomp's default bad-architecture action (SCMP_ACT_KILL,
// which is KILL_THREAD); runc keeps it.
const badArchRet = retKillThread

// enosysRet is what runc's filter patch returns for syscall numbers beyond
// the largest one the profile names, when the default action denies.
const enosysRet = retErrno | errnoENOSYS

// target is where the search sends one interval of syscall numbers: a
// return value, or conditional rules tried in order before fallback.
type target struct {
	rules    []sysRule
	fallback uint32
	is64     bool
	lbl      label
}

type interval struct {
	lo uint32
	t  *target
}

type generator struct {
	p       *profile
	plans   []*archPlan
	a       assembler
	stub    bool
	usedRet map[uint32]bool
}

func newGenerator(p *profile, plans []*archPlan) *generator {
	// runc (libcontainer/seccomp/patchbpf) prepends a stub that returns
	// ENOSYS for numbers past the largest the profile names, unless the
	// default action lets calls through (ALLOW, LOG, TRACE): programs then
	// see new syscalls as absent and fall back, instead of seeing EPERM.
	def := p.defRet & retActionMask
	stub := def != retAllow && def != retLog && def != retTrace
	return &generator{p: p, plans: plans, stub: stub, usedRet: map[uint32]bool{badArchRet: true}}
}

func (g *generator) rets() []uint32 {
	return slices.Sorted(maps.Keys(g.usedRet))
}

func (g *generator) generate() ([]Instruction, error) {
	a := &g.a
	sections := g.sections()
	a.emit(bpfLdWAbs, 4) // seccomp_data.arch
	starts := make([]label, len(sections))
	for i, s := range sections {
		starts[i] = a.newLabel()
		next := a.newLabel()
		a.jump(bpfJeqK, arches[s[0].id].audit, starts[i], next)
		a.bind(next)
	}
	a.emit(bpfRetK, badArchRet)
	for i, s := range sections {
		a.bind(starts[i])
		g.section(s)
	}
	return a.assemble()
}

// sections groups the plans by audit architecture, native first.
func (g *generator) sections() [][]*archPlan {
	var out [][]*archPlan
	for _, pl := range g.plans {
		i := slices.IndexFunc(out, func(s []*archPlan) bool { return arches[s[0].id].audit == arches[pl.id].audit })
		if i < 0 {
			out = append(out, []*archPlan{pl})
			continue
		}
		out[i] = append(out[i], pl)
	}
	return out
}

func (g *generator) section(plans []*archPlan) {
	a := &g.a
	rets := map[uint32]label{}
	retLabel := func(r uint32) label {
		l, ok := rets[r]
		if !ok {
			l = a.newLabel()
			rets[r] = l
			g.usedRet[r] = true
		}
		return l
	}
	ivs := g.intervals(plans)
	for _, iv := range ivs {
		if iv.t.rules == nil {
			iv.t.lbl = retLabel(iv.t.fallback)
		} else if iv.t.lbl == noLabel {
			iv.t.lbl = a.newLabel()
		}
	}
	a.emit(bpfLdWAbs, 0) // seccomp_data.nr
	g.tree(ivs, g.treeLabel(ivs))
	for _, iv := range ivs {
		if iv.t.rules != nil {
			g.block(iv.t, retLabel)
		}
	}
	for _, r := range slices.Sorted(maps.Keys(rets)) {
		a.bind(rets[r])
		a.emit(bpfRetK, r)
	}
}

// treeLabel is where a search over ivs starts: its only target when it has
// one interval, else a node of its own.
func (g *generator) treeLabel(ivs []interval) label {
	if len(ivs) == 1 {
		return ivs[0].t.lbl
	}
	return g.a.newLabel()
}

// tree emits a balanced binary search over ivs, whose entry is at.
func (g *generator) tree(ivs []interval, at label) {
	if len(ivs) == 1 {
		return
	}
	mid := len(ivs) / 2
	left, right := g.treeLabel(ivs[:mid]), g.treeLabel(ivs[mid:])
	g.a.bind(at)
	g.a.jump(bpfJgeK, ivs[mid].lo, right, left)
	g.tree(ivs[:mid], left)
	g.tree(ivs[mid:], right)
}

// segment is a range of syscall numbers nothing in the profile names.
type segment struct {
	lo, hi uint32
	ret    uint32
}

// gaps returns what unnamed numbers get, over the whole 32-bit range.
func (g *generator) gaps(plans []*archPlan) []segment {
	abi := func(lo, hi uint32, pl *archPlan) []segment {
		if !g.stub || pl == nil || pl.maxNr < int64(lo) || pl.maxNr >= int64(hi) {
			return []segment{{lo, hi, g.p.defRet}}
		}
		m := uint32(pl.maxNr)
		return []segment{{lo, m, g.p.defRet}, {m + 1, hi, enosysRet}}
	}
	if arches[plans[0].id].audit != auditArchX8664 {
		return abi(0, 0xffffffff, plans[0])
	}
	var x8664, x32 *archPlan
	for _, pl := range plans {
		if pl.id == archX32 {
			x32 = pl
		} else {
			x8664 = pl
		}
	}
	segs := abi(0, x32SyscallBit-1, x8664)
	if x32 != nil {
		return append(segs, abi(x32SyscallBit, 0xffffffff, x32)...)
	}
	// Without x32 in the filter, x32 numbers get the bad-architecture
	// action, except -1, which tracers use to skip a call (libseccomp
	// makes the same exception).
	return append(segs, segment{x32SyscallBit, 0xfffffffe, badArchRet}, segment{0xffffffff, 0xffffffff, g.p.defRet})
}

// intervals maps the whole number range to targets, merging neighbours
// that return the same value unconditionally.
func (g *generator) intervals(plans []*archPlan) []interval {
	type point struct {
		nr uint32
		t  *target
	}
	var points []point
	for _, pl := range plans {
		for nr, rules := range pl.calls {
			points = append(points, point{nr, g.finalize(rules, arches[pl.id].is64)})
		}
	}
	slices.SortFunc(points, func(a, b point) int { return cmp.Compare(a.nr, b.nr) })

	var out []interval
	push := func(lo uint32, t *target) {
		if n := len(out); n > 0 && t.rules == nil && out[n-1].t.rules == nil && out[n-1].t.fallback == t.fallback {
			return
		}
		out = append(out, interval{lo, t})
	}
	simple := func(r uint32) *target { return &target{fallback: r, lbl: noLabel} }
	pi := 0
	for _, s := range g.gaps(plans) {
		lo := uint64(s.lo)
		for ; pi < len(points) && points[pi].nr <= s.hi; pi++ {
			if uint64(points[pi].nr) > lo {
				push(uint32(lo), simple(s.ret))
			}
			push(points[pi].nr, points[pi].t)
			lo = uint64(points[pi].nr) + 1
		}
		if lo <= uint64(s.hi) {
			push(uint32(lo), simple(s.ret))
		}
	}
	return out
}

// finalize orders one syscall's rules: strictest action first, then
// profile order; the first whose conditions all hold decides. An
// unconditional rule ends the list and becomes the fallback; trailing
// conditional rules that would return the fallback anyway are dropped.
func (g *generator) finalize(rules []sysRule, is64 bool) *target {
	if len(rules) == 1 && len(rules[0].conds) == 0 {
		// The common case (a plain allow list): nothing to order.
		return &target{fallback: rules[0].ret, is64: is64, lbl: noLabel}
	}
	rs := slices.Clone(rules)
	slices.SortStableFunc(rs, func(a, b sysRule) int {
		if stricter(a.ret, b.ret) {
			return -1
		}
		if stricter(b.ret, a.ret) {
			return 1
		}
		return cmp.Compare(a.order, b.order)
	})
	t := &target{fallback: g.p.defRet, is64: is64, lbl: noLabel}
	if i := slices.IndexFunc(rs, func(r sysRule) bool { return len(r.conds) == 0 }); i >= 0 {
		t.fallback = rs[i].ret
		rs = rs[:i]
	}
	for len(rs) > 0 && rs[len(rs)-1].ret == t.fallback {
		rs = rs[:len(rs)-1]
	}
	// Among rules with the same return value order does not matter, so
	// gather single equality tests on one argument word: block emits
	// them as one chain of jeq (Docker's socket and personality rules).
	for i := 0; i < len(rs); {
		j := i + 1
		for j < len(rs) && rs[j].ret == rs[i].ret {
			j++
		}
		slices.SortStableFunc(rs[i:j], func(a, b sysRule) int {
			ka, oka := eqKey(a, is64)
			kb, okb := eqKey(b, is64)
			if oka != okb {
				// Chains last: a lone test (socket's domain < 3 for
				// AF_UNIX and AF_INET) is cheaper to try first.
				if oka {
					return 1
				}
				return -1
			}
			return cmp.Compare(ka, kb)
		})
		i = j
	}
	if len(rs) > 0 {
		t.rules = rs
	}
	return t
}

// eqKey identifies rules that are one equality test on an argument: the
// argument and, on 64-bit ABIs, the high word of the value, which a chain
// tests once.
func eqKey(r sysRule, is64 bool) (uint64, bool) {
	if len(r.conds) != 1 || r.conds[0].op != opEQ {
		return 0, false
	}
	c := r.conds[0]
	k := uint64(c.arg) << 32
	if is64 {
		k |= c.val >> 32
	}
	return k, true
}

// block emits t's conditional rules.
func (g *generator) block(t *target, retLabel func(uint32) label) {
	a := &g.a
	a.bind(t.lbl)
	for i := 0; i < len(t.rules); {
		r := t.rules[i]
		j := i + 1
		if k, ok := eqKey(r, t.is64); ok {
			for j < len(t.rules) && t.rules[j].ret == r.ret {
				if k2, ok2 := eqKey(t.rules[j], t.is64); !ok2 || k2 != k {
					break
				}
				j++
			}
		}
		fail := retLabel(t.fallback)
		if j < len(t.rules) {
			fail = a.newLabel()
		}
		if j-i > 1 {
			g.eqChain(t.rules[i:j], t.is64, retLabel(r.ret), fail)
		} else {
			g.conds(r.conds, t.is64, retLabel(r.ret), fail)
		}
		if j < len(t.rules) {
			a.bind(fail)
		}
		i = j
	}
}

// eqChain emits rules that each test one argument for equality, all on the
// same argument (and high word), returning the same value: the word is
// loaded once and compared against each value in turn.
func (g *generator) eqChain(rules []sysRule, is64 bool, ok, fail label) {
	a := &g.a
	c0 := rules[0].conds[0]
	lo := argLo(c0.arg)
	if is64 {
		n := a.newLabel()
		a.emit(bpfLdWAbs, uint32(lo+4))
		a.jump(bpfJeqK, uint32(c0.val>>32), n, fail)
		a.bind(n)
	}
	a.emit(bpfLdWAbs, uint32(lo))
	for i, r := range rules {
		miss := fail
		if i < len(rules)-1 {
			miss = a.newLabel()
		}
		a.jump(bpfJeqK, uint32(r.conds[0].val), ok, miss)
		if i < len(rules)-1 {
			a.bind(miss)
		}
	}
}

// conds emits the AND of cs: every one true jumps to ok, any false to fail.
func (g *generator) conds(cs []cond, is64 bool, ok, fail label) {
	e := condEmitter{a: &g.a, loaded: -1}
	for i, c := range cs {
		succ := ok
		if i < len(cs)-1 {
			succ = e.a.newLabel()
		}
		if is64 {
			e.cond64(c, succ, fail)
		} else {
			e.cond32(c, succ, fail)
		}
		if i < len(cs)-1 {
			e.a.bind(succ)
		}
	}
}

// condEmitter tracks which seccomp_data word the accumulator holds, so
// consecutive tests on one word load it once.
type condEmitter struct {
	a      *assembler
	loaded int // offset held in A, or -1
}

func (e *condEmitter) load(off int) {
	if e.loaded != off {
		e.a.emit(bpfLdWAbs, uint32(off))
		e.loaded = off
	}
}

// andMask applies a mask to A; A then no longer holds a plain word.
func (e *condEmitter) andMask(m uint32) {
	if m != 0xffffffff {
		e.a.emit(bpfAndK, m)
		e.loaded = -1
	}
}

// argLo is the offset of the low word of argument i in seccomp_data on a
// little-endian machine (every architecture pelagos filters is).
func argLo(i int) int { return 16 + 8*i }

// cond32 compares the low word only (32-bit ABIs).
func (e *condEmitter) cond32(c cond, ok, fail label) {
	v := uint32(c.val)
	e.load(argLo(c.arg))
	switch c.op {
	case opEQ:
		e.a.jump(bpfJeqK, v, ok, fail)
	case opNE:
		e.a.jump(bpfJeqK, v, fail, ok)
	case opGT:
		e.a.jump(bpfJgtK, v, ok, fail)
	case opGE:
		e.a.jump(bpfJgeK, v, ok, fail)
	case opLT:
		e.a.jump(bpfJgeK, v, fail, ok)
	case opLE:
		e.a.jump(bpfJgtK, v, fail, ok)
	case opMaskedEQ:
		e.andMask(uint32(c.mask))
		e.a.jump(bpfJeqK, v, ok, fail)
	}
}

// cond64 compares a full 64-bit argument as two 32-bit words, high word
// first, as libseccomp does; all comparisons are unsigned.
func (e *condEmitter) cond64(c cond, ok, fail label) {
	a := e.a
	lo, hi := argLo(c.arg), argLo(c.arg)+4
	vl, vh := uint32(c.val), uint32(c.val>>32)
	next := func() label { l := a.newLabel(); return l }
	switch c.op {
	case opEQ:
		n := next()
		e.load(hi)
		a.jump(bpfJeqK, vh, n, fail)
		a.bind(n)
		e.load(lo)
		a.jump(bpfJeqK, vl, ok, fail)
	case opNE:
		n := next()
		e.load(hi)
		a.jump(bpfJeqK, vh, n, ok)
		a.bind(n)
		e.load(lo)
		a.jump(bpfJeqK, vl, fail, ok)
		e.loaded = -1
	case opGT, opGE, opLT, opLE:
		above, below := ok, fail // where a high word above / below goes
		if c.op == opLT || c.op == opLE {
			above, below = fail, ok
		}
		n1, n2 := next(), next()
		e.load(hi)
		a.jump(bpfJgtK, vh, above, n1)
		a.bind(n1)
		a.jump(bpfJeqK, vh, n2, below)
		a.bind(n2)
		e.load(lo)
		switch c.op {
		case opGT:
			a.jump(bpfJgtK, vl, ok, fail)
		case opGE:
			a.jump(bpfJgeK, vl, ok, fail)
		case opLT:
			a.jump(bpfJgeK, vl, fail, ok)
		case opLE:
			a.jump(bpfJgtK, vl, fail, ok)
		}
		e.loaded = -1
	case opMaskedEQ:
		ml, mh := uint32(c.mask), uint32(c.mask>>32)
		if mh != 0 {
			then := ok
			if ml != 0 {
				then = next()
			}
			e.load(hi)
			e.andMask(mh)
			a.jump(bpfJeqK, vh, then, fail)
			if ml == 0 {
				return
			}
			a.bind(then)
		}
		e.load(lo)
		e.andMask(ml)
		a.jump(bpfJeqK, vl, ok, fail)
	}
}
