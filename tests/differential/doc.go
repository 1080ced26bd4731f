// Package differential holds tests that run the same bundle under the
// runtime under test and under runc and compare what the probe sees
// inside the two containers. The runtime under test is pelagos-runc built
// from this tree unless PELAGOS_TEST_RUNTIME names another (set it to
// /usr/sbin/runc to prove the tests themselves).
package differential
