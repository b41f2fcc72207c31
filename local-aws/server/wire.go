package server

// The wire layer: every protocol's body is turned into one generic tree
// (map[string]any, []any, string, int64, float64, bool, time.Time, []byte)
// and back, so each operation is written once against plain Go structs whose
// json tags carry the member names of the service's model.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

var timeType = reflect.TypeOf(time.Time{})

// toTree converts a response struct into the generic tree. Fields tagged
// omitempty are left out when zero, as AWS leaves unset members out.
func toTree(v any) any { return treeOf(reflect.ValueOf(v)) }

func treeOf(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return treeOf(v.Elem())
	case reflect.Struct:
		if v.Type() == timeType {
			t := v.Interface().(time.Time)
			if t.IsZero() {
				return nil
			}
			return t
		}
		m := map[string]any{}
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct { // promoted members
				for k, e := range treeOf(v.Field(i)).(map[string]any) {
					m[k] = e
				}
				continue
			}
			name, omitEmpty, ok := jsonName(f)
			if !ok {
				continue
			}
			fv := v.Field(i)
			if omitEmpty && fv.IsZero() {
				continue
			}
			if (fv.Kind() == reflect.Slice || fv.Kind() == reflect.Map) && omitEmpty && fv.Len() == 0 {
				continue
			}
			if t := treeOf(fv); t != nil {
				m[name] = t
			}
		}
		return m
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v.Bytes()
		}
		l := make([]any, 0, v.Len())
		for i := 0; i < v.Len(); i++ {
			l = append(l, treeOf(v.Index(i)))
		}
		return l
	case reflect.Map:
		m := map[string]any{}
		for _, k := range v.MapKeys() {
			m[k.String()] = treeOf(v.MapIndex(k))
		}
		return m
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int64(v.Uint())
	case reflect.Float32, reflect.Float64:
		return v.Float()
	}
	return nil
}

func jsonName(f reflect.StructField) (name string, omitEmpty, ok bool) {
	if !f.IsExported() {
		return "", false, false
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false, false
	}
	name, opts, _ := strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	return name, strings.Contains(opts, "omitempty"), true
}

// fromTree fills the struct pointed to by out from a request tree. Values
// from the query protocol arrive as strings and are parsed by the target's type.
func fromTree(t any, out any) error {
	return fill(t, reflect.ValueOf(out).Elem(), "")
}

func fill(t any, v reflect.Value, path string) error {
	if t == nil {
		return nil
	}
	bad := func() error {
		return fmt.Errorf("%s: cannot use %v (%T) as %s", strings.TrimPrefix(path, "."), t, t, v.Type())
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return fill(t, v.Elem(), path)
	case reflect.Struct:
		if v.Type() == timeType {
			tm, err := asTime(t)
			if err != nil {
				return fmt.Errorf("%s: %v", strings.TrimPrefix(path, "."), err)
			}
			v.Set(reflect.ValueOf(tm))
			return nil
		}
		m, ok := t.(map[string]any)
		if !ok {
			if s, isStr := t.(string); isStr && s == "" {
				return nil
			}
			return bad()
		}
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct { // shared members, e.g. paging
				if err := fill(m, v.Field(i), path); err != nil {
					return err
				}
				continue
			}
			name, _, ok := jsonName(f)
			if !ok {
				continue
			}
			if mv, found := m[name]; found {
				if err := fill(mv, v.Field(i), path+"."+name); err != nil {
					return err
				}
			}
		}
		return nil
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			switch b := t.(type) {
			case []byte:
				v.SetBytes(b)
			case string:
				d, err := base64.StdEncoding.DecodeString(b)
				if err != nil {
					return bad()
				}
				v.SetBytes(d)
			default:
				return bad()
			}
			return nil
		}
		l, ok := t.([]any)
		if !ok {
			if s, isStr := t.(string); isStr && s == "" { // the query protocol's empty list
				v.Set(reflect.MakeSlice(v.Type(), 0, 0))
				return nil
			}
			return bad()
		}
		s := reflect.MakeSlice(v.Type(), len(l), len(l))
		for i, e := range l {
			if err := fill(e, s.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.Map:
		m, ok := t.(map[string]any)
		if !ok {
			return bad()
		}
		mm := reflect.MakeMapWithSize(v.Type(), len(m))
		for k, e := range m {
			ev := reflect.New(v.Type().Elem()).Elem()
			if err := fill(e, ev, path+"."+k); err != nil {
				return err
			}
			mm.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), ev)
		}
		v.Set(mm)
		return nil
	case reflect.String:
		switch s := t.(type) {
		case string:
			v.SetString(s)
		case json.Number:
			v.SetString(string(s))
		default:
			return bad()
		}
		return nil
	case reflect.Bool:
		switch b := t.(type) {
		case bool:
			v.SetBool(b)
		case string:
			p, err := strconv.ParseBool(b)
			if err != nil {
				return bad()
			}
			v.SetBool(p)
		default:
			return bad()
		}
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		f, err := asFloat(t)
		if err != nil || f != math.Trunc(f) || v.OverflowInt(int64(f)) {
			return bad()
		}
		v.SetInt(int64(f))
		return nil
	case reflect.Float32, reflect.Float64:
		f, err := asFloat(t)
		if err != nil {
			return bad()
		}
		v.SetFloat(f)
		return nil
	}
	return bad()
}

func asFloat(t any) (float64, error) {
	switch n := t.(type) {
	case int64:
		return float64(n), nil
	case float64:
		return n, nil
	case json.Number:
		return n.Float64()
	case string:
		return strconv.ParseFloat(n, 64)
	}
	return 0, fmt.Errorf("not a number")
}

// asTime accepts epoch seconds (JSON, CBOR tag 1) and ISO 8601 (query).
func asTime(t any) (time.Time, error) {
	if tm, ok := t.(time.Time); ok {
		return tm, nil
	}
	if s, ok := t.(string); ok {
		if tm, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return tm, nil
		}
	}
	f, err := asFloat(t)
	if err != nil {
		return time.Time{}, fmt.Errorf("not a timestamp: %v", t)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e3))*1e6).UTC(), nil
}

// --- JSON (awsJson1_0/1_1, restJson1): timestamps are epoch seconds.

func encodeJSON(t any) []byte {
	b, err := json.Marshal(jsonable(t))
	if err != nil {
		panic(err) // trees hold only encodable values
	}
	return b
}

func jsonable(t any) any {
	switch v := t.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = jsonable(e)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, e := range v {
			l[i] = jsonable(e)
		}
		return l
	case time.Time:
		return json.Number(strconv.FormatFloat(float64(v.UnixMilli())/1e3, 'f', -1, 64))
	}
	return t
}

func decodeJSON(b []byte) (any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return map[string]any{}, nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var t any
	if err := d.Decode(&t); err != nil {
		return nil, err
	}
	return t, nil
}

// --- CBOR (rpc-v2-cbor): timestamps are tag 1 with epoch seconds.

func encodeCBOR(t any) []byte { return cbor.Encode(cborValue(t)) }

func cborValue(t any) cbor.Value {
	switch v := t.(type) {
	case map[string]any:
		m := cbor.Map{}
		for k, e := range v {
			m[k] = cborValue(e)
		}
		return m
	case []any:
		l := make(cbor.List, len(v))
		for i, e := range v {
			l[i] = cborValue(e)
		}
		return l
	case string:
		return cbor.String(v)
	case int64:
		if v < 0 {
			return cbor.NegInt(uint64(-v))
		}
		return cbor.Uint(uint64(v))
	case float64:
		return cbor.Float64(v)
	case bool:
		return cbor.Bool(v)
	case time.Time:
		return &cbor.Tag{ID: 1, Value: cbor.Float64(float64(v.UnixMilli()) / 1e3)}
	case []byte:
		return cbor.Slice(v)
	}
	return &cbor.Nil{}
}

func decodeCBOR(b []byte) (any, error) {
	if len(b) == 0 {
		return map[string]any{}, nil
	}
	v, err := cbor.Decode(b)
	if err != nil {
		return nil, err
	}
	return cborTree(v)
}

func cborTree(v cbor.Value) (any, error) {
	switch x := v.(type) {
	case cbor.Map:
		m := make(map[string]any, len(x))
		for k, e := range x {
			t, err := cborTree(e)
			if err != nil {
				return nil, err
			}
			if t != nil {
				m[k] = t
			}
		}
		return m, nil
	case cbor.List:
		l := make([]any, 0, len(x))
		for _, e := range x {
			t, err := cborTree(e)
			if err != nil {
				return nil, err
			}
			l = append(l, t)
		}
		return l, nil
	case cbor.String:
		return string(x), nil
	case cbor.Uint:
		return int64(x), nil
	case cbor.NegInt:
		return -int64(x), nil // the decoder has applied RFC 8949's -1 bias
	case cbor.Float32:
		return float64(x), nil
	case cbor.Float64:
		return float64(x), nil
	case cbor.Bool:
		return bool(x), nil
	case cbor.Slice:
		return []byte(x), nil
	case *cbor.Tag:
		if x.ID == 1 {
			return cbor.AsTime(x)
		}
		return nil, fmt.Errorf("unsupported CBOR tag %d", x.ID)
	case *cbor.Nil, *cbor.Undefined:
		return nil, nil
	}
	return nil, fmt.Errorf("unsupported CBOR value %T", v)
}

// --- awsquery: form-encoded requests, XML responses.

// queryTree nests flattened query parameters ("Dimensions.member.1.Name")
// into the tree; "member.N" becomes a list and "entry.N.key/value" a map.
func queryTree(form url.Values) any {
	root := map[string]any{}
	for k, vs := range form {
		if k == "Action" || k == "Version" || len(vs) == 0 {
			continue
		}
		parts := strings.Split(k, ".")
		node := root
		for i, p := range parts {
			if i == len(parts)-1 {
				node[p] = vs[0]
				break
			}
			next, ok := node[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				node[p] = next
			}
			node = next
		}
	}
	return normalizeQuery(root)
}

func normalizeQuery(t any) any {
	m, ok := t.(map[string]any)
	if !ok {
		return t
	}
	if len(m) == 1 {
		if members, ok := m["member"].(map[string]any); ok {
			return indexed(members, func(e any) any { return normalizeQuery(e) })
		}
		if entries, ok := m["entry"].(map[string]any); ok {
			out := map[string]any{}
			for _, e := range indexed(entries, func(e any) any { return e }) {
				if kv, ok := e.(map[string]any); ok {
					if k, ok := kv["key"].(string); ok {
						out[k] = normalizeQuery(kv["value"])
					}
				}
			}
			return out
		}
	}
	for k, e := range m {
		m[k] = normalizeQuery(e)
	}
	return m
}

func indexed(m map[string]any, f func(any) any) []any {
	keys := make([]int, 0, len(m))
	for k := range m {
		if n, err := strconv.Atoi(k); err == nil {
			keys = append(keys, n)
		}
	}
	sort.Ints(keys)
	l := make([]any, 0, len(keys))
	for _, k := range keys {
		l = append(l, f(m[strconv.Itoa(k)]))
	}
	return l
}

// writeXML writes a tree as awsquery XML: lists as <member> elements,
// timestamps in ISO 8601, members sorted for stable output.
func writeXML(b *bytes.Buffer, t any) {
	switch v := t.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(b, "<%s>", k)
			writeXML(b, v[k])
			fmt.Fprintf(b, "</%s>", k)
		}
	case []any:
		for _, e := range v {
			b.WriteString("<member>")
			writeXML(b, e)
			b.WriteString("</member>")
		}
	case string:
		_ = xml.EscapeText(b, []byte(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case float64:
		b.WriteString(strconv.FormatFloat(v, 'f', -1, 64))
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case time.Time:
		b.WriteString(v.UTC().Format("2006-01-02T15:04:05.000Z"))
	case []byte:
		b.WriteString(base64.StdEncoding.EncodeToString(v))
	}
}
