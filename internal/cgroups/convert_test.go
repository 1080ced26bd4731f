package cgroups

import "testing"

func TestCPUWeight(t *testing.T) {
	for _, tt := range []struct{ shares, want uint64 }{
		{0, 0}, {1, 1}, {2, 1}, {1024, 39}, {262144, 10000}, {1 << 20, 10000},
	} {
		if got := CPUWeight(tt.shares); got != tt.want {
			t.Errorf("CPUWeight(%d) = %d, want %d", tt.shares, got, tt.want)
		}
	}
}

func TestIOWeight(t *testing.T) {
	for _, tt := range []struct {
		blkio uint16
		want  uint64
	}{{0, 0}, {10, 1}, {500, 4950}, {1000, 10000}} {
		if got := IOWeight(tt.blkio); got != tt.want {
			t.Errorf("IOWeight(%d) = %d, want %d", tt.blkio, got, tt.want)
		}
	}
}

func TestSwapV2(t *testing.T) {
	for _, tt := range []struct {
		swap, memory, want int64
		wantErr            bool
	}{
		{0, -1, -1, false},
		{-1, 100, -1, false},
		{0, 100, 0, false},
		{300, -1, 300, false},
		{300, 100, 200, false},
		{100, 100, 0, false},
		{50, 100, 0, true},
		{300, 0, 0, true},
	} {
		got, err := SwapV2(tt.swap, tt.memory)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("SwapV2(%d, %d) = %d, %v; want %d, error %v", tt.swap, tt.memory, got, err, tt.want, tt.wantErr)
		}
	}
}
