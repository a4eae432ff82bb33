package main

import (
	"testing"
	"time"
)

func TestAgeLikeKubectl(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                              "0s",
		65 * time.Second:               "65s",
		119 * time.Second:              "119s",
		5*time.Minute + 10*time.Second: "5m10s",
		5 * time.Minute:                "5m",
		12 * time.Minute:               "12m",
		179 * time.Minute:              "179m",
		3*time.Hour + 5*time.Minute:    "3h5m",
		9 * time.Hour:                  "9h",
		51 * time.Hour:                 "2d3h",
		10 * 24 * time.Hour:            "10d",
		3 * 365 * 24 * time.Hour:       "3y",
	} {
		if got := age(d); got != want {
			t.Errorf("age(%v) = %q, want %q", d, got, want)
		}
	}
}
