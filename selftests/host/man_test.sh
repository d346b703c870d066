#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The manual pages in docs/man render without a single roff warning, are
# not empty and have the sections every page needs; README.md and docs/
# refer to nothing outside the repository (their links resolve inside it,
# anchors included).  Runs on the host.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
top=$(cd "$here/../.." && pwd)

pages=()
for p in "$top"/docs/man/*.[1-8]; do
	[ -f "$p" ] && pages+=("$p")
done
plan $((${#pages[@]} + 2))

if [ ${#pages[@]} -gt 0 ]; then pass pages_exist; else fail pages_exist "no page in docs/man"; fi

for p in "${pages[@]}"; do
	name=page_$(basename "$p")
	if ! command -v man >/dev/null; then
		skip "$name" "man (man-db) is not installed"
		continue
	fi
	bad=()
	# --warnings=w: every groff warning, not only man's default few.
	warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l --warnings=w -E UTF-8 "$p" 2>&1 >/dev/null)
	[ -z "$warn" ] || bad+=("roff: $warn")
	text=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l -E UTF-8 "$p" 2>/dev/null)
	# Between the header and the footer, text lines are indented and
	# section headings are not.
	sed '1d;$d' <<<"$text" | grep -q '^ \{1,\}[^ ]' || bad+=("renders no text")
	for s in NAME SYNOPSIS DESCRIPTION "SEE ALSO"; do
		grep -qE "^\.SH +\"?$s\"? *$" "$p" || bad+=("no $s section")
	done
	if [ ${#bad[@]} -eq 0 ]; then pass "$name"; else fail "$name" "${bad[@]}"; fi
done

# GitHub's anchor of each heading of a Markdown file, one per line.
anchors() {
	sed -n 's/^#\{1,6\} \{1,\}//p' "$1" |
		tr 'A-Z' 'a-z' | sed 's/[^a-z0-9 _-]//g; s/ /-/g'
}

bad=()
cd "$top" || exit 1
# No word SPEC/TESTBED/STYLE (AF_UNSPEC is fine), no ../shared, no path of
# the machine the docs were written on.
while IFS= read -r l; do
	bad+=("$l")
done < <(grep -rnIE '(^|[^A-Za-z0-9_])(SPEC|TESTBED|STYLE)([^A-Za-z0-9_]|$)|shared/|/work/' \
	README.md docs/)
# Nor do the sources' comments name a file outside the repository.
while IFS= read -r l; do
	bad+=("$l")
done < <(grep -rnIE '(SPEC|TESTBED|STYLE)\.md|\.\./shared/' \
	kernel uapi selftests tools Makefile Kbuild .ci |
	grep -v '^selftests/host/man_test\.sh:')
for md in README.md docs/*.md; do
	dir=$(dirname "$md")
	while IFS= read -r target; do
		case $target in
		http://* | https://* | mailto:*) continue ;;
		esac
		file=${target%%#*}
		anchor=
		[ "$file" != "$target" ] && anchor=${target#*#}
		if [ -n "$file" ]; then
			path=$(realpath -m "$dir/$file")
			case $path in
			"$top"/*) ;;
			*) bad+=("$md: link outside the repository: $target"); continue ;;
			esac
			[ -e "$path" ] || { bad+=("$md: no such file: $target"); continue; }
		else
			path=$(realpath "$md")
		fi
		if [ -n "$anchor" ] && ! anchors "$path" | grep -qxF -- "$anchor"; then
			bad+=("$md: no heading for #$anchor in ${path#"$top"/}")
		fi
	done < <(grep -oE '\]\([^)[:space:]]+\)' "$md" | sed 's/^](//; s/)$//')
done
if [ ${#bad[@]} -eq 0 ]; then pass docs_refer_to_nothing_outside_the_repo; else fail docs_refer_to_nothing_outside_the_repo "${bad[@]}"; fi
finish
