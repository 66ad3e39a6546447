package planner

import (
	"fmt"
	"strings"
)

// Values that move: text that a date or time type reads as the moment of
// its conversion. 'now' is the current time, and 'today', 'tomorrow' and
// 'yesterday' (alone or with a time of day and a zone: 'today 10:00',
// 'tomorrow UTC') are days counted from the current date. A value written
// that way is another one in the plan and in the apply, or from one day to
// the next, so the apply of a clean plan would find it stale, and each
// day's plan would change the row again. rowform refuses such a value as
// a rejected row (a type_mismatch error in a key column), for a CSV or
// DuckDB field (movingWord, before the destination converts it) as for a
// postgres source's text (sourceExpr, refusesNow), and says which word it
// found. 'epoch', 'infinity' and 'allballs' read as the same value every
// time and are taken.

// Array and multirange type OIDs of the built-in date and time types.
const (
	oidTimestampArray   = 1115
	oidDateArray        = 1182
	oidTimeArray        = 1183
	oidTimestamptzArray = 1185
	oidTimetzArray      = 1270
)

// dayWords are the words a date or timestamp reads as a day counted from
// the current date.
var dayWords = []string{"today", "tomorrow", "yesterday"}

// clockInput is what of the current time a type's text input reads.
type clockInput struct {
	// alone: the text 'now' by itself, spaces around it allowed, is the
	// current time (the only way these types take it).
	alone bool
	// words: any of these, anywhere in the text as a word of its own, is
	// read from the current time ("today 10:00"; an array element
	// "{now}"; a range bound "[today,)").
	words []string
}

// clockOf is the clockInput of the built-in type oid (a domain's base type).
func clockOf(oid uint32) clockInput {
	switch oid {
	case oidTime, oidTimetz:
		return clockInput{alone: true}
	case oidDate, oidTimestamp, oidTimestamptz:
		return clockInput{alone: true, words: dayWords}
	case oidTimeArray, oidTimetzArray:
		return clockInput{words: []string{"now"}}
	case oidDateArray, oidTimestampArray, oidTimestamptzArray,
		oidDaterange, oidTsrange, oidTstzrange,
		oidDatemultirange, oidTsmultirange, oidTstzmultirange:
		return clockInput{words: append([]string{"now"}, dayWords...)}
	}
	return clockInput{}
}

// readsClock reports whether values of oid can move.
func (k clockInput) readsClock() bool { return k.alone || len(k.words) > 0 }

// clock is the clockInput of the column's type, or of its domain's base
// type.
func (c column) clock() clockInput {
	oid := c.Catalog.TypeOID
	if c.Catalog.IsDomain() {
		oid = c.Catalog.BaseTypeOID
	}
	return clockOf(oid)
}

// castsNow reports whether a postgres source column sc reaches the
// column's type on the source through text input, which reads the moving
// words from the current time: the column's type can move and sc is not
// itself of a date or time type, or an array or range of one (text,
// varchar, citext, text[], a domain...), whose casts do not go through
// text.
func (c column) castsNow(sc sourceColumn) bool {
	return c.clock().readsClock() && !clockOf(sc.TypeOID).readsClock()
}

// movingWord is the word of v, text for column c, that the column's type
// reads from the current time ("now", "today", ...), or "" when v does
// not move.
func (c column) movingWord(v string) string {
	k := c.clock()
	if k.alone && len(v) < 16 && strings.EqualFold(strings.TrimSpace(v), "now") {
		return "now"
	}
	if len(k.words) == 0 {
		return ""
	}
	// The words of v: runs of ASCII letters, as the server's date and
	// time parser splits its input.
	for i := 0; i < len(v); {
		if !isASCIILetter(v[i]) {
			i++
			continue
		}
		j := i + 1
		for j < len(v) && isASCIILetter(v[j]) {
			j++
		}
		for _, w := range k.words {
			if strings.EqualFold(v[i:j], w) {
				return w
			}
		}
		i = j
	}
	return ""
}

func isASCIILetter(b byte) bool { return b|0x20 >= 'a' && b|0x20 <= 'z' }

// movingReason is why a value with word (movingWord) is refused.
func movingReason(word string) string {
	if word == "now" {
		return "'now' is read as the time it is converted, another one in the plan and in the apply, so no plan could be applied; write the time itself"
	}
	return fmt.Sprintf("'%s' is read from the date it is converted, another one from one day to the next, so a plan made one day is stale the next and every day's plan changes the row again; write the date itself", word)
}

// movesSQL is the SQL condition, over expr (a postgres source's value),
// that holds where movingWord would find a word in its text.
func (c column) movesSQL(expr string) string {
	k := c.clock()
	var conds []string
	if k.alone {
		conds = append(conds, fmt.Sprintf("lower(btrim((%s)::text, E' \\t\\n\\r\\v\\f')) COLLATE \"C\" = 'now'", expr))
	}
	if len(k.words) > 0 {
		conds = append(conds, fmt.Sprintf("lower((%s)::text) COLLATE \"C\" ~ '(^|[^a-z])(%s)([^a-z]|$)'", expr, strings.Join(k.words, "|")))
	}
	return strings.Join(conds, " OR ")
}
