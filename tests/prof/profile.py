#!/usr/bin/env python3
"""profile.py -- reads a poolalloc profile (POOLALLOC_PROFILE), checks it and
symbolizes its frames. A test helper until the real tool lands; stdlib only.

    python3 profile.py FILE...    checks each file and prints its stacks,
                                  symbolized, heaviest alloc_space first; a
                                  bad file: one line on stderr, exit 1

As a module:
    p = profile.read(path)        # Profile, or raises ProfileError "FILE:LINE: why"
    names = profile.symbolize(p)  # {address: Frame(path, vaddr, function)}

The format is docs/profile-format.md (version 2; version 1 is read too),
one record per line:
    poolalloc-profile 2
    program PATH | pid N | time SECONDS | uptime SECONDS | reason WORD
    sequence N | sample_rate N | profiler_memory N | other KEY VALUE (ignored)
    values NAME...                          the numbers of a stack line (version 2)
    mapping START END OFFSET BUILDID PATH   executable segment [START, END) of
                                            PATH at file offset OFFSET (hex;
                                            BUILDID hex or -; PATH may hold spaces)
    stack VALUE... FRAME...                 one number per `values` name (version 1:
                                            alloc_objects alloc_space inuse_objects
                                            inuse_space), then up to 64 hex return
                                            addresses, innermost first
    end N                                   N = number of stack lines; last line
Paths are bytes: they are decoded as os.fsdecode does (surrogateescape).
"""
import bisect
import collections
import os
import re
import struct
import subprocess
import sys

VERSIONS = (1, 2, 3)
GO_VALUES = ("alloc_objects", "alloc_space", "inuse_objects", "inuse_space")
HEADER = {  # the keys of version 1: pattern of the value (other keys: any value)
    "program": r".+",
    "pid": r"[0-9]+",
    "time": r"[0-9]+(\.[0-9]+)?",
    "uptime": r"[0-9]+(\.[0-9]+)?",
    "reason": r"[a-z]+",
    "sequence": r"[0-9]+",
    "sample_rate": r"[0-9]+",
    "profiler_memory": r"[0-9]+",
}
HEX = r"0x[0-9a-f]+"
MAX_FRAMES = 64
MAPPING = re.compile(rf"mapping ({HEX}) ({HEX}) ({HEX}) ([0-9a-f]+|-) (.+)")
STACK = re.compile(rf"stack((?: [0-9]+)*)((?: {HEX})*)")
END = re.compile(r"end ([0-9]+)")

Mapping = collections.namedtuple("Mapping", "start end offset buildid path")
Stack = collections.namedtuple("Stack", "alloc_objects alloc_space inuse_objects inuse_space frames values")
# values: {name: number} of every number on the line (version 1: the four)
Frame = collections.namedtuple("Frame", "path vaddr function")  # path None: no mapping


class ProfileError(Exception):
    """A malformed or truncated profile; str() is 'FILE:LINE: why' (or
    'FILE: why' when no line is at fault)."""

    def __init__(self, path, line, why):
        super().__init__(f"{path}:{line}: {why}" if line else f"{path}: {why}")


class Profile:
    def __init__(self, path):
        self.path = path
        self.header = {}    # key -> value (str)
        self.mappings = []  # Mapping, sorted by start
        self.stacks = []    # Stack
        self.memory = []    # the `memory` lines' values (version 3), as text

    @property
    def sample_rate(self):
        return int(self.header["sample_rate"])

    def mapping_of(self, addr):
        """The mapping holding addr, or None."""
        i = bisect.bisect_right([m.start for m in self.mappings], addr) - 1
        if i >= 0 and addr < self.mappings[i].end:
            return self.mappings[i]
        return None


def read(path):
    """Parses and checks the profile at path; raises ProfileError."""
    p = Profile(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ProfileError(path, None, f"cannot read: {e.strerror}") from None
    lines = data.decode("utf-8", "surrogateescape").split("\n")
    if lines[-1] != "":
        raise ProfileError(path, len(lines), "truncated: the last line has no newline")
    lines.pop()
    if not lines:
        raise ProfileError(path, 1, "empty file")
    magic = lines[0].split(" ")
    if magic[0] != "poolalloc-profile" or len(magic) != 2:
        raise ProfileError(path, 1, "not a poolalloc profile (no 'poolalloc-profile VERSION' line)")
    if magic[1] not in [str(v) for v in VERSIONS]:
        raise ProfileError(path, 1, f"format version {magic[1]!r}, this reader knows {VERSIONS}")
    names = GO_VALUES if magic[1] == "1" else None
    end, seen, numbered = None, set(), []  # numbered: (mapping, its line number)
    for n, line in enumerate(lines[1:], start=2):
        if end is not None:
            raise ProfileError(path, n, "text after the 'end' line")
        key, _, value = line.partition(" ")
        if key == "mapping":
            m = MAPPING.fullmatch(line)
            if not m:
                raise ProfileError(path, n, f"malformed mapping line {line[:80]!r}")
            start, stop, offset = (int(m.group(i), 16) for i in (1, 2, 3))
            if start >= stop:
                raise ProfileError(path, n, "mapping with START >= END")
            numbered.append((Mapping(start, stop, offset, m.group(4), m.group(5)), n))
        elif key == "stack":
            m = STACK.fullmatch(line)
            if not m:
                raise ProfileError(path, n, f"malformed stack line {line[:80]!r}")
            if names is None:
                raise ProfileError(path, n, "stack line before a 'values' line")
            numbers = [int(x) for x in m.group(1).split()]
            if len(numbers) != len(names):
                raise ProfileError(path, n, f"stack line with {len(numbers)} numbers, 'values' names {len(names)}")
            values = dict(zip(names, numbers))
            ao, asp, io, isp = (values[k] for k in GO_VALUES)
            if io > ao or isp > asp:
                raise ProfileError(path, n, "stack with more in use than allocated")
            frames = tuple(int(x, 16) for x in m.group(2).split())
            if len(frames) > MAX_FRAMES:
                raise ProfileError(path, n, f"stack with {len(frames)} frames (at most {MAX_FRAMES})")
            if frames in seen:
                raise ProfileError(path, n, "a second stack line with the same frames")
            seen.add(frames)
            p.stacks.append(Stack(ao, asp, io, isp, frames, values))
        elif key == "end":
            m = END.fullmatch(line)
            if not m:
                raise ProfileError(path, n, f"malformed end line {line[:80]!r}")
            end = int(m.group(1))
            if end != len(p.stacks):
                raise ProfileError(path, n, f"'end {end}' but {len(p.stacks)} stack lines")
        elif key == "memory" and not numbered and not p.stacks:
            p.memory.append(value)      # memory over time: the one key that repeats
        elif re.fullmatch(r"[a-z_]+", key) and not numbered and not p.stacks:
            if key in p.header:
                raise ProfileError(path, n, f"second '{key}' line")
            if not re.fullmatch(HEADER.get(key, r".*"), value):
                raise ProfileError(path, n, f"bad '{key}' value {value[:60]!r}")
            p.header[key] = value       # keys added later: kept as they are
            if key == "values":
                names = tuple(value.split(" "))
                if len(set(names)) != len(names) or any(k not in names for k in GO_VALUES):
                    raise ProfileError(path, n, f"bad 'values' {value[:60]!r}")
        elif key in HEADER:
            raise ProfileError(path, n, f"header line '{key}' after mappings or stacks")
        else:
            raise ProfileError(path, n, f"unknown record {key[:40]!r}")
    if end is None:
        raise ProfileError(path, len(lines), "truncated: no 'end' line")
    missing = [k for k in HEADER if k not in p.header]
    if missing:
        raise ProfileError(path, len(lines), f"no {', '.join(missing)} line")
    numbered.sort()
    for (a, na), (b, nb) in zip(numbered, numbered[1:]):
        if b.start < a.end:
            raise ProfileError(path, max(na, nb), f"mapping overlaps the one on line {min(na, nb)} ({a.path})")
    p.mappings = [m for m, _ in numbered]
    return p


# ---- symbolization ------------------------------------------------------------

_elf = {}       # path -> Elf, or None: not a readable ELF file
_names = {}     # (path, vaddr) -> function name

Elf = collections.namedtuple("Elf", "segments buildid")  # {p_offset: p_vaddr} of PT_LOAD; hex or "-"


def load_elf(path):
    """The PT_LOAD program headers and the GNU build-id of the ELF file at
    path (read with struct: 32 or 64 bits, either byte order), or None."""
    if path not in _elf:
        try:
            with open(path, "rb") as f:
                _elf[path] = _parse_elf(f)
        except (OSError, struct.error, ValueError):
            _elf[path] = None
    return _elf[path]


def _parse_elf(f):
    ident = f.read(16)
    if ident[:4] != b"\x7fELF" or ident[4] not in (1, 2) or ident[5] not in (1, 2):
        raise ValueError("not ELF")
    wide, e = ident[4] == 2, "<" if ident[5] == 1 else ">"
    f.seek(32 if wide else 28)                          # e_phoff
    (phoff,) = struct.unpack(e + ("Q" if wide else "I"), f.read(8 if wide else 4))
    f.seek(54 if wide else 42)                          # e_phentsize, e_phnum
    phentsize, phnum = struct.unpack(e + "HH", f.read(4))
    segments, notes, buildid = {}, [], "-"
    for i in range(phnum):
        f.seek(phoff + i * phentsize)
        if wide:   # p_type p_flags p_offset p_vaddr p_paddr p_filesz p_memsz p_align
            ptype, _, off, vaddr, _, filesz, _, align = struct.unpack(e + "IIQQQQQQ", f.read(56))
        else:      # p_type p_offset p_vaddr p_paddr p_filesz p_memsz p_flags p_align
            ptype, off, vaddr, _, filesz, _, _, align = struct.unpack(e + "IIIIIIII", f.read(32))
        if ptype == 1:                                  # PT_LOAD
            segments[off] = vaddr
        elif ptype == 4:                                # PT_NOTE
            notes.append((off, filesz, 8 if align == 8 else 4))
    for off, size, align in notes:
        f.seek(off)
        data, at = f.read(size), 0
        pad = lambda n: (n + align - 1) & ~(align - 1)
        while at + 12 <= len(data):
            namesz, descsz, ntype = struct.unpack(e + "III", data[at:at + 12])
            name, desc = at + 12, at + 12 + pad(namesz)
            if ntype == 3 and data[name:name + namesz] == b"GNU\0":     # NT_GNU_BUILD_ID
                buildid = data[desc:desc + descsz].hex()
            at = desc + pad(descsz)
    return Elf(segments, buildid)


def _addr2line(path, vaddrs):
    """Function names of vaddrs in the ELF file at path, in one addr2line run."""
    try:
        r = subprocess.run(["addr2line", "-f", "-C", "-e", path],
                           input="".join(f"{v:#x}\n" for v in vaddrs),
                           capture_output=True, text=True, timeout=60)
        out = r.stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        out = []
    if len(out) < 2 * len(vaddrs):          # two lines per address: function, file:line
        return ["??"] * len(vaddrs)
    return [out[2 * i] for i in range(len(vaddrs))]


def symbolize(p):
    """{frame address: Frame} for every frame of p's stacks. A return address
    is looked up as address - 1 (the call, not what follows it). A frame
    whose file is gone or has another build-id than the mapping line says
    keeps its path but gets no vaddr and the function '??'."""
    where = {}
    todo = collections.defaultdict(set)     # path -> vaddrs to name
    for addr in {a for s in p.stacks for a in s.frames}:
        m = p.mapping_of(addr - 1)
        elf = load_elf(m.path) if m else None
        if not elf or m.offset not in elf.segments or m.buildid != elf.buildid:
            where[addr] = (m.path if m else None, None)     # no file, or not the file that was loaded
            continue
        vaddr = addr - 1 - m.start + elf.segments[m.offset]
        where[addr] = (m.path, vaddr)
        if (m.path, vaddr) not in _names:
            todo[m.path].add(vaddr)
    for path, vaddrs in todo.items():
        vaddrs = sorted(vaddrs)
        for v, name in zip(vaddrs, _addr2line(path, vaddrs)):
            _names[(path, v)] = name
    return {a: Frame(path, v, _names.get((path, v), "??")) for a, (path, v) in where.items()}


def main(argv):
    if len(argv) < 2:
        print("usage: profile.py FILE...", file=sys.stderr)
        return 2
    status = 0
    for path in argv[1:]:
        try:
            p = read(path)
        except ProfileError as e:
            print(f"profile.py: {e}", file=sys.stderr)
            status = 1
            continue
        names = symbolize(p)
        print(f"{path}: {p.header['program']} pid {p.header['pid']}, reason {p.header['reason']}, "
              f"sample_rate {p.sample_rate}, {len(p.mappings)} mappings, {len(p.stacks)} stacks")
        print("alloc_objects alloc_space inuse_objects inuse_space  stack (innermost first)")
        for s in sorted(p.stacks, key=lambda s: -s.alloc_space):
            frames = " <- ".join(f"{names[a].function} ({os.path.basename(names[a].path or '?')})"
                                 for a in s.frames) or "(no frames)"
            print(f"{s.alloc_objects} {s.alloc_space} {s.inuse_objects} {s.inuse_space}  {frames}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
