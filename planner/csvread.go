package planner

import (
	"errors"
	"io"
)

// ReadCSV reads every record of r with the rules of a csv source
// (PostgreSQL's CSV format, a leading UTF-8 byte order mark skipped): a
// field is nil for NULL (an unquoted empty field), and blank lines are
// skipped. rowform test reads its fixture files with it.
func ReadCSV(r io.Reader, delimiter rune) ([][]*string, error) {
	rows, err := readAllCSV(newCSVReader(r, delimiter))
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// readAllCSV reads cr to its end. On an error it returns the records read
// before it with the error.
func readAllCSV(cr *csvReader) ([][]*string, error) {
	var out [][]*string
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		row := make([]*string, len(rec))
		for i, f := range rec {
			if !f.Null {
				v := f.Value
				row[i] = &v
			}
		}
		out = append(out, row)
	}
}
