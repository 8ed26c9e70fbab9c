package core

import (
	"strconv"
	"strings"
	"time"
)

// Tag parses a per-route option string such as
//
//	"optional,ttl=60s,scope=ip,wait=2s"
//
// Items are separated by commas; each is a flag or name=value:
//
//	optional | required          key optional or required (default required)
//	nopayload                    no fingerprint check (WithoutPayloadCheck)
//	failopen | failclosed        store outage behaviour (default failclosed)
//	release_unstored             WithReleaseUnstored (default: tombstones)
//	ttl=DURATION                 WithTTL
//	lease=DURATION               WithLease
//	wait=DURATION                WithLockWait
//	scope=global|user|route|ip|user_route   WithScope
//	methods=POST|PUT             WithMethods
//	key=uuid|ulid|token          WithKeyValidator
//	header=NAME                  WithHeaderName
//	maxkey=N                     WithMaxKeyLength
//	maxbody=N                    WithMaxBodyBytes
//
// An unknown item or a bad value makes New return an error naming it.
func Tag(tag string) Option {
	return optionFunc(func(c *config) error {
		for _, item := range strings.Split(tag, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			if err := applyTagItem(c, item); err != nil {
				return err
			}
		}
		return nil
	})
}

func applyTagItem(c *config, item string) error {
	name, value, hasValue := strings.Cut(item, "=")
	name = strings.ToLower(strings.TrimSpace(name))
	value = strings.TrimSpace(value)
	if !hasValue {
		switch name {
		case "optional":
			c.optional = true
		case "required":
			c.optional = false
		case "nopayload":
			c.checkPayload = false
		case "failopen":
			c.failOpen = true
		case "failclosed":
			c.failOpen = false
		case "release_unstored":
			c.releaseUnstored = true
		default:
			return invalid("tag: unknown flag %q", name)
		}
		return nil
	}
	var o Option
	switch name {
	case "ttl", "lease", "wait":
		d, err := time.ParseDuration(value)
		if err != nil {
			return invalid("tag: %s=%q is not a duration", name, value)
		}
		switch name {
		case "ttl":
			o = WithTTL(d)
		case "lease":
			o = WithLease(d)
		default:
			o = WithLockWait(d)
		}
	case "scope":
		o = WithScope(Scope(strings.ToLower(value)))
	case "methods":
		o = WithMethods(strings.Split(value, "|")...)
	case "key":
		v, ok := namedValidator(strings.ToLower(value))
		if !ok {
			return invalid("tag: key=%q (want uuid, ulid or token)", value)
		}
		o = WithKeyValidator(v)
	case "header":
		o = WithHeaderName(value)
	case "maxkey", "maxbody":
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return invalid("tag: %s=%q is not an integer", name, value)
		}
		if name == "maxkey" {
			o = WithMaxKeyLength(int(n))
		} else {
			o = WithMaxBodyBytes(n)
		}
	default:
		return invalid("tag: unknown option %q", name)
	}
	return o.apply(c)
}
