package mp3

import "strconv"

func itoa(v int) string         { return strconv.Itoa(v) }
func strconvF(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
