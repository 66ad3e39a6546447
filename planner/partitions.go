package planner

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
)

// createFile creates a temporary file for a partition and unlinks it at
// once: it lives as long as its descriptor, so nothing is left behind
// however the process ends.
func (j *hashJoin) createFile() (*os.File, error) {
	f, err := os.CreateTemp("", "rowform-diff-*")
	if err != nil {
		return nil, tempFileErr("spilling the row diff to disk", err)
	}
	_ = os.Remove(f.Name())
	j.files.Add(1)
	return f, nil
}

// partitions are one side's rows routed by key hash. Each partition buffers
// up to bufCap bytes in memory; a full buffer is appended, as one chunk, to
// the side's temporary file (one file per side, so that a spill costs one
// file, not one per partition). A partition is its chunks in order followed
// by what is still in memory. A record is the key hash, the length of the
// rest, then the values as appendValues writes them.
type partitions struct {
	name   string
	bufCap int
	create func() (*os.File, error)
	file   *os.File
	end    int64 // bytes written to file
	bufs   [hashFanout][]byte
	chunks [hashFanout][]chunk
	onDisk [hashFanout]int64 // bytes of each partition's chunks
	rows   [hashFanout]int
	gather []byte // the small values of an oversized record
}

// chunk is a run of a partition's records in the side's file.
type chunk struct{ off, n int64 }

// newPartitions starts an empty set of partitions for one side.
func (j *hashJoin) newPartitions(name string) *partitions {
	return &partitions{name: name, bufCap: max(j.limits.spill/hashFanout, 1), create: j.createFile}
}

// add appends a row to partition part.
func (p *partitions) add(part int, h uint64, vals [][]byte) error {
	n := recordHeader + valuesSize(vals)
	if n > p.bufCap {
		// Past the buffer's cap: after what is buffered, straight to disk,
		// value by value (a wide row is not copied once more).
		if err := p.flush(part); err != nil {
			return err
		}
		p.rows[part]++
		return p.writeOversized(part, h, vals, n)
	}
	if err := p.makeRoom(part, n); err != nil {
		return err
	}
	b := p.bufs[part]
	start := len(b)
	b = binary.BigEndian.AppendUint64(b, h)
	b = binary.BigEndian.AppendUint32(b, uint32(n-recordHeader))
	b = appendValues(b, vals)
	if len(b)-start != n {
		return fmt.Errorf("internal error: a row diff record of %d bytes, expected %d", len(b)-start, n)
	}
	p.rows[part]++
	p.bufs[part] = b
	return nil
}

// writeOversized appends the record of a row larger than a partition's
// buffer to the file as one chunk of partition part. Small values are
// gathered in a buffer of bufCap bytes; large ones are written where they
// are (a wide row is not copied once more).
func (p *partitions) writeOversized(part int, h uint64, vals [][]byte, n int) error {
	if p.file == nil {
		f, err := p.create()
		if err != nil {
			return err
		}
		p.file = f
	}
	written := 0
	write := func(b []byte) error {
		if _, err := p.file.Write(b); err != nil {
			return tempFileErr("spilling the row diff to disk", err)
		}
		written += len(b)
		return nil
	}
	buf := p.gather[:0]
	buf = binary.BigEndian.AppendUint64(buf, h)
	buf = binary.BigEndian.AppendUint32(buf, uint32(n-recordHeader))
	for _, v := range vals {
		if v == nil {
			buf = binary.BigEndian.AppendUint32(buf, nullLength)
			continue
		}
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(v)))
		if len(buf)+len(v) <= p.bufCap {
			buf = append(buf, v...)
			continue
		}
		if err := write(buf); err != nil {
			return err
		}
		buf = buf[:0]
		if err := write(v); err != nil {
			return err
		}
	}
	if err := write(buf); err != nil {
		return err
	}
	p.gather = buf[:0]
	if written != n {
		return fmt.Errorf("internal error: a row diff record of %d bytes, expected %d", written, n)
	}
	p.chunks[part] = append(p.chunks[part], chunk{p.end, int64(n)})
	p.end += int64(n)
	p.onDisk[part] += int64(n)
	return nil
}

// addRecord appends an encoded record to partition part.
func (p *partitions) addRecord(part int, rec []byte) error {
	p.rows[part]++
	if len(rec) > p.bufCap {
		if err := p.flush(part); err != nil {
			return err
		}
		return p.writeChunk(part, rec)
	}
	if err := p.makeRoom(part, len(rec)); err != nil {
		return err
	}
	p.bufs[part] = append(p.bufs[part], rec...)
	return nil
}

// makeRoom makes room for n more bytes (n <= bufCap) in partition part's
// buffer: it writes the buffer to disk when full, else grows it by
// doubling up to bufCap, so that a small sync holds only its rows.
func (p *partitions) makeRoom(part, n int) error {
	b := p.bufs[part]
	if len(b)+n > p.bufCap {
		return p.flush(part)
	}
	if cap(b)-len(b) < n {
		grown := make([]byte, len(b), min(max(2*cap(b), 4096, len(b)+n), p.bufCap))
		copy(grown, b)
		p.bufs[part] = grown
	}
	return nil
}

// flush appends partition i's buffered records to the file.
func (p *partitions) flush(i int) error {
	if len(p.bufs[i]) == 0 {
		return nil
	}
	if err := p.writeChunk(i, p.bufs[i]); err != nil {
		return err
	}
	p.bufs[i] = p.bufs[i][:0]
	return nil
}

// writeChunk appends b to the file as a chunk of partition i.
func (p *partitions) writeChunk(i int, b []byte) error {
	if p.file == nil {
		f, err := p.create()
		if err != nil {
			return err
		}
		p.file = f
	}
	if _, err := p.file.Write(b); err != nil {
		return tempFileErr("spilling the row diff to disk", err)
	}
	p.chunks[i] = append(p.chunks[i], chunk{p.end, int64(len(b))})
	p.end += int64(len(b))
	p.onDisk[i] += int64(len(b))
	return nil
}

// release gives back the buffers of partitions that went to disk, once the
// side has been read: their rows are all in the file then.
func (p *partitions) release() error {
	for i := range p.bufs {
		if len(p.chunks[i]) == 0 {
			continue
		}
		if err := p.flush(i); err != nil {
			return err
		}
		p.bufs[i] = nil
	}
	p.gather = nil
	return nil
}

func releaseAll(sets ...*partitions) error {
	for _, p := range sets {
		if err := p.release(); err != nil {
			return err
		}
	}
	return nil
}

// size is the bytes partition i holds.
func (p *partitions) size(i int) int64 { return p.onDisk[i] + int64(len(p.bufs[i])) }

// reader reads partition i from the start.
func (p *partitions) reader(i int) io.Reader {
	if len(p.chunks[i]) == 0 {
		return bytes.NewReader(p.bufs[i])
	}
	rs := make([]io.Reader, 0, len(p.chunks[i])+1)
	for _, c := range p.chunks[i] {
		rs = append(rs, io.NewSectionReader(p.file, c.off, c.n))
	}
	return io.MultiReader(append(rs, bytes.NewReader(p.bufs[i]))...)
}

// load reads partition i into arena (reusing its memory).
func (p *partitions) load(i int, arena []byte) ([]byte, error) {
	n := int(p.size(i))
	if cap(arena) < n {
		arena = make([]byte, n, n+n/4)
	}
	arena = arena[:n]
	pos := 0
	for _, c := range p.chunks[i] {
		if _, err := p.file.ReadAt(arena[pos:pos+int(c.n)], c.off); err != nil {
			return nil, tempFileErr("reading back the row diff's temporary file", err)
		}
		pos += int(c.n)
	}
	copy(arena[pos:], p.bufs[i])
	return arena, nil
}

// partitionReader is the buffer each reads a partition's file with: one
// per worker, since workers read the same partitions' file at once.
type partitionReader struct{ rd *bufio.Reader }

// each calls fn with every record of partition i, reading through r; rec
// is valid during the call only.
func (p *partitions) each(i int, r *partitionReader, fn func(rec []byte) error) error {
	if len(p.chunks[i]) == 0 { // all in memory
		b := p.bufs[i]
		for off := 0; off < len(b); {
			n := recordHeader + int(binary.BigEndian.Uint32(b[off+8:]))
			if err := fn(b[off : off+n]); err != nil {
				return err
			}
			off += n
		}
		return nil
	}
	if r.rd == nil {
		r.rd = bufio.NewReaderSize(nil, 64<<10)
	}
	rd := r.rd
	rd.Reset(p.reader(i))
	rec := make([]byte, recordHeader, 4096)
	for {
		rec = rec[:recordHeader]
		if _, err := io.ReadFull(rd, rec); err == io.EOF {
			return nil
		} else if err != nil {
			return tempFileErr("reading back the row diff's temporary file", err)
		}
		n := recordHeader + int(binary.BigEndian.Uint32(rec[8:]))
		rec = slices.Grow(rec, n-len(rec))[:n]
		if _, err := io.ReadFull(rd, rec[recordHeader:]); err != nil {
			return tempFileErr("reading back the row diff's temporary file", err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

// close closes the side's (already unlinked) file.
func (p *partitions) close() {
	if p.file != nil {
		_ = p.file.Close()
		p.file = nil
	}
	for i := range p.bufs {
		p.bufs[i], p.chunks[i] = nil, nil
	}
}
