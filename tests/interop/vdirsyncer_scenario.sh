#!/usr/bin/env bash
# CardDAV interoperability scenario: the real client vdirsyncer (written against
# 0.21.0) doing a two-way sync of a few hundred contacts through a running server.
#
# usage: vdirsyncer_scenario.sh BASE_URL USER PASSWORD [VDIRSYNCER_BINARY]
#        (e.g. http://127.0.0.1:8012/ tester pw123 /opt/interop-venv/bin/vdirsyncer)
#
# Prints one PASS/FAIL line per check and closes with
# `vdirsyncer: N passed, N failed`; exit status 1 if any check failed.
# Needs curl and a python3 (standard library only; the one vdirsyncer runs on
# will do) for reading the server's XML. Everything lives in a mktemp folder that
# is removed at the end (VDS_KEEP=1 keeps it, with all vdirsyncer logs).
#
# Two local vCard folders, A and B, are each paired (their own config and
# status) with the same remote address book, "vds-<random>", which vdirsyncer
# creates itself (extended MKCOL, `implicit = "create"`) and this script deletes
# at the end. In each pair a = the local folder and b = the server.
#   1  ~300 varied vCards (3.0 and 4.0, non-ASCII, typed EMAIL/TEL, itemN. groups
#      with X-ABLabel, folded base64 PHOTOs, escaped NOTEs, CATEGORIES, a 4.0
#      KIND:group and an Apple-style 3.0 group) in A, each as <UID>.vcf
#   2  discover+sync A (upload), discover+sync B (download): B gets exactly the
#      same files, byte for byte, and so does a GET of every card from the server
#   3  edits, deletions and additions on both sides; sync A, B, A
#   4  A == B == expected (a model kept by this script), count, server listing,
#      every card's bytes on the server, and the RFC 6578 sync-collection delta
#   5  a further sync of A and B is a no-op (no vdirsyncer action, no write
#      request, no local file touched; getctag/sync-token unchanged, empty delta)
#   6  the same card changed differently in A and B: with conflict_resolution
#      "a wins" the pair that meets the conflict (B's, as A syncs first) keeps
#      its local version; after syncing both, that version is everywhere, once;
#      then another no-op sync (as in 5)
#   7  cleanup: DELETE of the address book
set -u

if [ $# -lt 3 ]; then
    sed -n 's/^# usage: /usage: /p' "$0" >&2
    exit 2
fi
base=$1; user=$2; pass=$3; V=${4:-vdirsyncer}
case $base in */) ;; *) base="$base/";; esac
origin=$(sed -E 's#^(https?://[^/]+).*#\1#' <<<"$base")

pass_n=0; fail_n=0
ok()  { echo "PASS $1"; pass_n=$((pass_n+1)); }
bad() { echo "FAIL $1"; fail_n=$((fail_n+1)); [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/     | /' | head -40; return 0; }
finish() {
    echo "vdirsyncer: $pass_n passed, $fail_n failed"
    [ "$fail_n" -eq 0 ] && exit 0 || exit 1
}

if ! command -v "$V" >/dev/null 2>&1; then bad "vdirsyncer binary '$V' not found"; finish; fi
command -v curl >/dev/null 2>&1 || { bad "curl not found"; finish; }
PY=${PYTHON:-}
if [ -z "$PY" ]; then
    if command -v python3 >/dev/null 2>&1; then PY=python3
    else PY=$(head -1 "$(command -v "$V")" | sed -n 's/^#! *//p'); fi
fi
"$PY" -c 'import xml.etree.ElementTree' 2>/dev/null || { bad "no usable python3 for XML parsing"; finish; }

w=$(mktemp -d "${TMPDIR:-/tmp}/vds-scenario.XXXXXX")
book="vds-$RANDOM$RANDOM"
book_url=""          # found by discovery below
cleanup() {
    if [ -n "$book_url" ] && [ -z "${book_deleted:-}" ]; then
        curl -sS -o /dev/null -u "$user:$pass" -X DELETE "$book_url" 2>/dev/null
    fi
    if [ "${VDS_KEEP:-0}" = 1 ]; then echo "work folder kept: $w"; else rm -rf "$w"; fi
}
trap cleanup EXIT

export LC_ALL=C.UTF-8 2>/dev/null || true
mkdir -p "$w/a/$book" "$w/exp" "$w/logs"

# --------------------------------------------------------------------------
# helpers: XML reading (python, stdlib), HTTP (curl), vdirsyncer runs
cat > "$w/dav.py" <<'PY'
import sys, xml.etree.ElementTree as ET
from urllib.parse import unquote
D = "{DAV:}"
mode = sys.argv[1]
root = ET.fromstring(sys.stdin.buffer.read())
def ok200(ps):
    return " 200 " in (ps.findtext(D + "status") or "") + " "
if mode == "href":           # the DAV:href inside property {ns}name (e.g. current-user-principal)
    for el in root.iter(sys.argv[2]):
        h = el.find(D + "href")
        if h is not None and h.text:
            print(h.text.strip()); break
elif mode == "text":         # text of property {ns}name in a 200 propstat
    for ps in root.iter(D + "propstat"):
        if not ok200(ps): continue
        el = ps.find(D + "prop/" + sys.argv[2])
        if el is not None:
            print((el.text or "").strip()); break
elif mode == "members":      # href<TAB>etag<TAB>decoded last segment, non-collections only
    for r in root.findall(D + "response"):
        href = (r.findtext(D + "href") or "").strip()
        coll, etag = False, ""
        for ps in r.findall(D + "propstat"):
            if not ok200(ps): continue
            rt = ps.find(D + "prop/" + D + "resourcetype")
            if rt is not None and rt.find(D + "collection") is not None: coll = True
            e = ps.findtext(D + "prop/" + D + "getetag")
            if e: etag = e.strip()
        if not coll:
            print(href + "\t" + etag + "\t" + unquote(href.rstrip("/").rsplit("/", 1)[-1]))
elif mode == "sync":         # decoded last segment<TAB>status code per response; then "#token<TAB>..."
    for r in root.findall(D + "response"):
        href = (r.findtext(D + "href") or "").strip()
        st = r.findtext(D + "status")
        if st is None:
            sts = [ps.findtext(D + "status") or "" for ps in r.findall(D + "propstat")]
            st = "200" if any(" 200 " in s + " " for s in sts) else ",".join(sts)
        code = st.split()[1] if len(st.split()) > 1 else st
        print(unquote(href.rstrip("/").rsplit("/", 1)[-1]) + "\t" + code)
    print("#token\t" + (root.findtext(D + "sync-token") or "").strip())
PY
dav() { "$PY" "$w/dav.py" "$@"; }

# curl_dav METHOD URL DEPTH BODY OUTFILE -> prints the HTTP status
curl_dav() {
    [ -n "$2" ] || { : > "$5"; echo "no-url"; return; }
    : > "$5"
    local args=(-sS -o "$5" -w '%{http_code}' -u "$user:$pass" -X "$1")
    [ -n "$3" ] && args+=(-H "Depth: $3")
    [ -n "$4" ] && args+=(-H 'Content-Type: application/xml; charset=utf-8' --data-binary "$4")
    curl "${args[@]}" "$2" 2>>"$w/logs/curl.err" || true
}
abs_url() { case $1 in http://*|https://*) echo "$1";; *) echo "$origin$1";; esac; }

PF_LIST='<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getetag/></D:prop></D:propfind>'
PF_TOKENS='<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/"><D:prop><CS:getctag/><D:sync-token/></D:prop></D:propfind>'

# server_list NAME: PROPFIND Depth 1 of the book into $w/NAME.xml and $w/NAME.tsv
server_list() {
    local st; st=$(curl_dav PROPFIND "$book_url" 1 "$PF_LIST" "$w/$1.xml")
    if [ "$st" != 207 ]; then echo "PROPFIND Depth 1 $book_url -> $st" > "$w/$1.err"; : > "$w/$1.tsv"; return 1; fi
    dav members < "$w/$1.xml" > "$w/$1.tsv" 2> "$w/$1.err"
}
# server_tokens: prints "<getctag> <sync-token>"
server_tokens() {
    local st; st=$(curl_dav PROPFIND "$book_url" 0 "$PF_TOKENS" "$w/tokens.xml")
    [ "$st" = 207 ] || { echo "status-$st"; return; }
    echo "$(dav text '{http://calendarserver.org/ns/}getctag' < "$w/tokens.xml") $(dav text '{DAV:}sync-token' < "$w/tokens.xml")"
}
# server_delta TOKEN NAME: RFC 6578 sync-collection from TOKEN into $w/NAME.tsv; prints the status
server_delta() {
    local body="<?xml version=\"1.0\" encoding=\"utf-8\"?><D:sync-collection xmlns:D=\"DAV:\"><D:sync-token>$1</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"
    local st; st=$(curl_dav REPORT "$book_url" "" "$body" "$w/$2.xml")
    if [ "$st" = 207 ]; then dav sync < "$w/$2.xml" > "$w/$2.tsv" 2>/dev/null; else : > "$w/$2.tsv"; fi
    echo "$st"
}
# server_fetch LIST NAME: GET every member listed in $w/LIST.tsv into $w/NAME/ (file = decoded segment)
server_fetch() {
    rm -rf "${w:?}/$2"; mkdir -p "$w/$2"; : > "$w/$2.curlrc"
    local href etag seg
    while IFS=$'\t' read -r href etag seg; do
        printf 'url = "%s"\noutput = "%s"\n' "$(abs_url "$href")" "$w/$2/$seg" >> "$w/$2.curlrc"
    done < "$w/$1.tsv"
    [ -s "$w/$2.curlrc" ] && curl -sS -f -u "$user:$pass" -K "$w/$2.curlrc" 2>>"$w/logs/curl.err"
}

# write the vdirsyncer config of one side
for side in a b; do cat > "$w/config-$side" <<CONF
[general]
status_path = "$w/status-$side/"

[pair p]
a = "local"
b = "remote"
collections = ["$book"]
implicit = "create"
conflict_resolution = "a wins"

[storage local]
type = "filesystem"
path = "$w/$side/"
fileext = ".vcf"

[storage remote]
type = "carddav"
url = "$base"
username = "$user"
password = "$pass"
CONF
done
# vds SIDE LOGNAME ARGS... : run vdirsyncer, output to logs/LOGNAME; on failure show its tail
last_log=""
vds() {
    local side=$1 name=$2; shift 2
    last_log="$w/logs/$name"
    "$V" -c "$w/config-$side" "$@" </dev/null >"$last_log" 2>&1
    local rc=$?
    [ $rc -ne 0 ] && { echo "     vdirsyncer $* (side $side) exited $rc:"; tail -15 "$last_log" | sed 's/^/     | /'; }
    return $rc
}
ACTIONS='Copying \(uploading\)|Copying \(updating\)|Deleting item|conflict resolution'
WRITES='^debug: (PUT|DELETE|MKCOL|PROPPATCH|POST|MOVE|COPY) '

# dirs_equal X Y: the same file names with the same bytes (prints the differences)
dirs_equal() { diff -rq "$1" "$2" 2>&1 | head -20; }
nfiles() { find "$1" -maxdepth 1 -type f -name '*.vcf' 2>/dev/null | wc -l; }

# --------------------------------------------------------------------------
# step 1: the cards
N=300
FIRSTS=("Åsa" "Jürgen" "Zoë" "François" "Ørjan" "Łukasz" "Małgorzata" "Søren" "José" "Anaïs"
        "Björk" "Dmitrij" "Иван" "Ольга" "Γιώργος" "Ελένη" "李" "さくら" "지민" "Ahmed"
        "محمد" "Noa" "Siobhán" "Þór" "Eleanor" "Mike" "Chloé" "Renée" "Nguyễn" "Ævar" "Ngozi")
LASTS=("Øvrebø" "Müller" "Brontë" "Lefèvre" "Kowalski" "Wójcik" "Kierkegaard" "García" "Núñez"
       "Guðmundsdóttir" "Петров" "Смирнова" "Παπαδόπουλος" "王" "山田" "김" "Al-Farsi" "Ó Briain"
       "Smith" "O'Neil" "van der Berg" "de la Cruz" "Šťastný" "Dvořák" "Yılmaz" "Đorđević" "Okafor")
declare -a UIDS
uid_of() {   # deterministic UIDs, all in vdirsyncer's "safe" set so that files are <UID>.vcf
    local i=$1 h
    h=$(printf 'skjold-vds-%s' "$i" | md5sum | cut -c1-32)
    if (( i % 10 == 3 )); then echo "vds.$i+alt_$(cut -c1-6 <<<"$h")"
    elif (( i % 10 == 8 )); then echo "${h^^}"
    else echo "${h:0:8}-${h:8:4}-4${h:13:3}-a${h:17:3}-${h:20:12}"; fi
}
for i in $(seq 1 $((N + 12))); do UIDS[$i]=$(uid_of "$i"); done

photo_b64() {   # a deterministic fake JPEG, ~390 bytes
    local i=$1 k hex=""
    for k in 1 2 3 4 5 6; do hex+=$(printf 'photo-%s-%s' "$i" "$k" | sha256sum | cut -c1-64); done
    { printf '\xff\xd8\xff\xe0\x00\x10JFIF\x00'; printf "$(sed 's/../\\x&/g' <<<"$hex")"; } | base64 -w0
}
# fold LINE: RFC 6350 folding at 75 octets (only used on ASCII lines)
fold_line() {
    local s=$1
    L+=("${s:0:75}"); s=${s:75}
    while [ -n "$s" ]; do L+=(" ${s:0:74}"); s=${s:74}; done
}
# gen_card INDEX [VARIANT] -> vCard on stdout, CRLF line ends.
# VARIANT: "" original, A / B = edited in A / B, CA / CB = the conflict versions.
gen_card() {
    local i=$1 var=${2:-} uid=${UIDS[$1]} v4=0 mail fn f l cats note
    (( i % 3 == 0 )) && v4=1
    (( i == 61 )) && v4=1
    f=${FIRSTS[$(( i % ${#FIRSTS[@]} ))]}; l=${LASTS[$(( (i * 7) % ${#LASTS[@]} ))]}
    fn="$f $l"; (( i % 37 == 0 )) && fn+=" 🎸"
    mail=$(printf 'contact%03d' "$i")
    case $var in
        A)  fn+=" (endret i A)"; mail+=".a-edit";;
        B)  fn+=" (endret i B)"; mail+=".b-edit";;
        CA) fn+=" — konflikt A";;
        CB) fn+=" — konflikt B";;
    esac
    case $(( i % 4 )) in
        0) cats="Venner,Arbeid";; 1) cats="Familie";; 2) cats="Ålesund,Klatring,Bok\\,klubb";; 3) cats="VIP";;
    esac
    note='Første linje\nAndre linje\, med komma\; og semikolon\\ og backslash\nTredje: «sitat»'
    L=("BEGIN:VCARD")
    if (( i == 61 )); then                       # RFC 6350 group
        L+=("VERSION:4.0" "UID:$uid" "KIND:group" "FN:Bokklubben Ærlig 📚${fn#"$f $l"}")
        local m; for m in 2 4 5 10 12 14; do L+=("MEMBER:urn:uuid:${UIDS[$m]}"); done
        L+=("CATEGORIES:Gruppe" "END:VCARD"); printf '%s\r\n' "${L[@]}"; return
    fi
    if (( i == 202 )); then                      # Apple-style 3.0 group
        L+=("VERSION:3.0" "PRODID:-//Apple Inc.//Mac OS X 10.15.7//EN" "N:Klatregjengen${fn#"$f $l"};;;;"
            "FN:Klatregjengen${fn#"$f $l"}" "X-ADDRESSBOOKSERVER-KIND:group")
        local m; for m in 1 6 7 11; do L+=("X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:${UIDS[$m]}"); done
        L+=("UID:$uid" "END:VCARD"); printf '%s\r\n' "${L[@]}"; return
    fi
    if (( v4 )); then
        L+=("VERSION:4.0" "UID:$uid")
        (( i % 2 )) && L+=("KIND:individual")
        L+=("FN:$fn" "N:$l;$f;;;")
        (( i % 5 == 0 )) && L+=("NICKNAME:Nick$i,Kompis")
        L+=("EMAIL;TYPE=home;PREF=1:$mail@example.org")
        (( i % 2 == 0 )) && L+=("EMAIL;TYPE=work:$mail@work.example.com")
        L+=("TEL;VALUE=uri;TYPE=\"voice,cell\":tel:+47-9$(printf %07d "$i")")
        (( i % 3 == 1 || i % 7 == 0 )) && L+=("TEL;VALUE=uri;TYPE=work:tel:+49-30-$(printf %06d $((i * 13)))")
        (( i % 6 == 0 )) && L+=("ADR;TYPE=home;LABEL=\"Storgata $i^nTromsø\":;;Storgata $i;Tromsø;;9008;Norge")
        (( i % 8 == 0 )) && L+=("ANNIVERSARY:20100612" "GENDER:F" "LANG;PREF=1:nb")
        (( i % 5 == 2 )) && L+=("BDAY:--0415")
    else
        L+=("VERSION:3.0")
        (( i % 5 == 1 )) && L+=("PRODID:-//Skjold interop//vdirsyncer scenario//EN")
        L+=("UID:$uid" "FN:$fn" "N:$l;$f;;;")
        (( i % 5 == 0 )) && L+=("NICKNAME:Nick$i,Kompis")
        L+=("EMAIL;TYPE=INTERNET,HOME:$mail@example.org")
        (( i % 2 == 0 )) && L+=("EMAIL;TYPE=INTERNET,WORK,PREF:$mail@work.example.com")
        L+=("TEL;TYPE=CELL,VOICE:+47 9$(printf %07d "$i")")
        (( i % 3 == 1 )) && L+=("TEL;TYPE=WORK,FAX:+49 30 $(printf %06d $((i * 13)))")
        (( i % 6 == 2 )) && L+=("ADR;TYPE=HOME:;;Storgata $i;Tromsø;;9008;Norge")
        (( i % 8 == 5 )) && L+=("BDAY:1980-02-29")
    fi
    if (( i % 4 == 1 )); then                    # Apple-style grouped properties
        L+=("item1.EMAIL;TYPE=INTERNET:$mail@other.example.net" 'item1.X-ABLabel:_$!<Other>!$_'
            "item2.URL:https://example.org/~c$i" "item2.X-ABLabel:Blogg på nett")
    fi
    (( i % 7 == 3 )) && L+=('ORG:Müller\, Schmidt & Partner;Forschung & Entwicklung' "TITLE:Ingeniørin")
    (( i % 3 != 2 )) && L+=("CATEGORIES:$cats")
    (( i % 13 == 0 )) && L+=("NOTE:$note")
    (( i % 17 == 2 )) && fold_line "NOTE:A long ASCII note that is folded over several lines, as RFC 6350 section 3.2 wants for lines longer than 75 octets; card $i."
    case $var in CA) L+=("NOTE:Konfliktversjon fra A");; CB) L+=("NOTE:Konfliktversjon fra B");; esac
    if (( i % 47 == 5 || i == 29 || i == 31 )); then
        if (( v4 )); then fold_line "PHOTO:data:image/jpeg;base64,$(photo_b64 "$i")"
        else fold_line "PHOTO;ENCODING=b;TYPE=JPEG:$(photo_b64 "$i")"; fi
    fi
    (( i % 9 == 0 )) && L+=("REV:20260101T120000Z")
    L+=("END:VCARD")
    printf '%s\r\n' "${L[@]}"
}

# which cards the steps touch (disjoint sets)
A_EDIT=(); A_DEL=(); B_EDIT=(); B_DEL=()
for i in $(seq 1 $N); do
    (( i % 15 == 1 )) && A_EDIT+=("$i")     # 20 (incl. the KIND:group card 61 and PHOTO card 31)
    (( i % 30 == 7 )) && A_DEL+=("$i")      # 10
    (( i % 20 == 9 )) && B_EDIT+=("$i")     # 15 (incl. PHOTO card 29)
    (( i % 30 == 22 )) && B_DEL+=("$i")     # 10 (incl. the Apple group 202 and PHOTO card 52)
done
A_ADD=($(seq $((N + 1)) $((N + 5)))); B_ADD=($(seq $((N + 6)) $((N + 10))))
CONFLICT=150
f_of() { echo "${UIDS[$1]}.vcf"; }

for i in $(seq 1 $N); do gen_card "$i" > "$w/exp/$(f_of "$i")"; done
cp -p "$w/exp/"*.vcf "$w/a/$book/"
n_v3=$(grep -l '^VERSION:3.0' "$w/exp/"*.vcf | wc -l); n_v4=$(grep -l '^VERSION:4.0' "$w/exp/"*.vcf | wc -l)
n_photo=$(grep -l '^PHOTO' "$w/exp/"*.vcf | wc -l); n_item=$(grep -l '^item1\.' "$w/exp/"*.vcf | wc -l)
n_note=$(grep -lF '\;' "$w/exp/"*.vcf | wc -l); n_group=$(grep -l '^KIND:group' "$w/exp/"*.vcf | wc -l)
if [ "$(nfiles "$w/a/$book")" -eq $N ] && [ "$n_v3" -gt 0 ] && [ "$n_v4" -gt 0 ] && [ "$n_photo" -gt 2 ] \
   && [ "$n_group" -eq 1 ] && [ "$(sort -u <(printf '%s\n' "${UIDS[@]}") | wc -l)" -eq $((N + 12)) ]; then
    ok "1  generated $N vCards in A ($n_v3 v3.0, $n_v4 v4.0, $n_photo with PHOTO, $n_item with itemN./X-ABLabel, $n_note with escaped NOTE/ORG, $n_group KIND:group)"
else
    bad "1  generate $N vCards" "files=$(nfiles "$w/a/$book") v3=$n_v3 v4=$n_v4 photo=$n_photo group=$n_group"
fi

# --------------------------------------------------------------------------
# step 2: A uploads, B downloads
st=$(curl_dav PROPFIND "$base" 0 '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:current-user-principal/></D:prop></D:propfind>' "$w/cup.xml")
principal=$(dav href '{DAV:}current-user-principal' < "$w/cup.xml" 2>/dev/null)
home=""
if [ -n "$principal" ]; then
    curl_dav PROPFIND "$(abs_url "$principal")" 0 '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:prop><CR:addressbook-home-set/></D:prop></D:propfind>' "$w/home.xml" >/dev/null
    home=$(dav href '{urn:ietf:params:xml:ns:carddav}addressbook-home-set' < "$w/home.xml" 2>/dev/null)
fi
if [ -n "$home" ]; then
    home=$(abs_url "$home"); case $home in */) ;; *) home="$home/";; esac
    book_url="$home$book/"
    ok "2a discovery with curl: principal $principal, addressbook-home-set $home"
else
    bad "2a discovery with curl (PROPFIND $base current-user-principal -> $st, principal '$principal', home '$home')"
fi

if vds a disc-a discover && vds a sync-a1 sync; then
    up=$(grep -c 'Copying (uploading)' "$w/logs/sync-a1")
    [ "$up" -eq $N ] && ok "2b discover + sync A: the book $book was created and $up cards uploaded" \
                    || bad "2b discover + sync A: $up uploads logged, expected $N" "$(grep -v 'Copying (uploading)' "$w/logs/sync-a1" | tail -5)"
else
    bad "2b discover + sync A"
fi

rt_st=$(curl_dav PROPFIND "$book_url" 0 '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/></D:prop></D:propfind>' "$w/rt.xml")
server_list list2
if [ "$rt_st" = 207 ] && grep -q 'addressbook' "$w/rt.xml" && [ "$(wc -l < "$w/list2.tsv")" -eq $N ] \
   && [ "$(cut -f2 "$w/list2.tsv" | grep -c '^"\|^W/"')" -eq $N ]; then
    ok "2c server: $book_url is an address book with $N members, each with a getetag"
else
    bad "2c server listing after the upload" "PROPFIND Depth 0 -> $rt_st; members listed: $(wc -l < "$w/list2.tsv") (expected $N); with etag: $(cut -f2 "$w/list2.tsv" | grep -c .) $(cat "$w/list2.err" 2>/dev/null)"
fi

if vds b disc-b discover && vds b sync-b1 sync; then
    down=$(grep -c 'Copying (uploading) item .* to local' "$w/logs/sync-b1")
    [ "$down" -eq $N ] && ok "2d discover + sync B: $down cards downloaded" \
                       || bad "2d discover + sync B: $down downloads logged, expected $N"
else
    bad "2d discover + sync B"
fi
d=$(dirs_equal "$w/a/$book" "$w/b/$book")
if [ "$(nfiles "$w/b/$book")" -eq $N ] && [ -z "$d" ]; then
    ok "2e B holds exactly the $N cards, each <UID>.vcf byte-identical to A's file"
else
    bad "2e B equals A byte for byte (B has $(nfiles "$w/b/$book") files)" "$d"
fi
server_fetch list2 srv2
d=$(dirs_equal "$w/exp" "$w/srv2")
[ -z "$d" ] && [ "$(nfiles "$w/srv2")" -eq $N ] && ok "2f GET of each of the $N members returns the uploaded bytes" \
            || bad "2f GET of each member returns the uploaded bytes" "$d"
tok2=$(server_tokens); tok2_sync=${tok2#* }

# --------------------------------------------------------------------------
# step 3: edits on both sides between syncs
for i in "${A_EDIT[@]}"; do gen_card "$i" A > "$w/a/$book/$(f_of "$i")"; gen_card "$i" A > "$w/exp/$(f_of "$i")"; done
for i in "${A_DEL[@]}";  do rm -f "$w/a/$book/$(f_of "$i")" "$w/exp/$(f_of "$i")"; done
for i in "${A_ADD[@]}";  do gen_card "$i" > "$w/a/$book/$(f_of "$i")"; gen_card "$i" > "$w/exp/$(f_of "$i")"; done
for i in "${B_EDIT[@]}"; do gen_card "$i" B > "$w/b/$book/$(f_of "$i")"; gen_card "$i" B > "$w/exp/$(f_of "$i")"; done
for i in "${B_DEL[@]}";  do rm -f "$w/b/$book/$(f_of "$i")" "$w/exp/$(f_of "$i")"; done
for i in "${B_ADD[@]}";  do gen_card "$i" > "$w/b/$book/$(f_of "$i")"; gen_card "$i" > "$w/exp/$(f_of "$i")"; done
EXPECTED=$(( N - ${#A_DEL[@]} - ${#B_DEL[@]} + ${#A_ADD[@]} + ${#B_ADD[@]} ))

s3=1
vds a sync-a2 sync || s3=0
vds b sync-b2 sync || s3=0
vds a sync-a3 sync || s3=0
# what each run should have done: A up: 20 updates, 10 deletes, 5 uploads; B: down A's 35 changes,
# up its own 30; A again: down B's 30 changes
cnt() { grep -cE "$2" "$w/logs/$1"; }
a2="$(cnt sync-a2 'Copying \(updating\) item .* to remote')/$(cnt sync-a2 'Deleting item .* from remote')/$(cnt sync-a2 'Copying \(uploading\) item .* to remote')"
b2u="$(cnt sync-b2 'Copying \(updating\) item .* to remote')/$(cnt sync-b2 'Deleting item .* from remote')/$(cnt sync-b2 'Copying \(uploading\) item .* to remote')"
b2d="$(cnt sync-b2 'Copying \(updating\) item .* to local')/$(cnt sync-b2 'Deleting item .* from local')/$(cnt sync-b2 'Copying \(uploading\) item .* to local')"
a3d="$(cnt sync-a3 'Copying \(updating\) item .* to local')/$(cnt sync-a3 'Deleting item .* from local')/$(cnt sync-a3 'Copying \(uploading\) item .* to local')"
a3u="$(cnt sync-a3 'Copying \(updating\) item .* to remote')/$(cnt sync-a3 'Deleting item .* from remote')/$(cnt sync-a3 'Copying \(uploading\) item .* to remote')"
want_a2="${#A_EDIT[@]}/${#A_DEL[@]}/${#A_ADD[@]}"; want_b2u="${#B_EDIT[@]}/${#B_DEL[@]}/${#B_ADD[@]}"
if [ $s3 = 1 ] && [ "$a2" = "$want_a2" ] && [ "$b2u" = "$want_b2u" ] && [ "$b2d" = "$want_a2" ] \
   && [ "$a3d" = "$want_b2u" ] && [ "$a3u" = 0/0/0 ]; then
    ok "3  edits/deletes/adds on both sides, sync A, B, A (update/delete/upload: A->srv $a2, srv->B $b2d, B->srv $b2u, srv->A $a3d)"
else
    bad "3  sync A, B, A after edits on both sides" "runs ok=$s3; update/delete/upload counts: A->server $a2 (want $want_a2), server->B $b2d (want $want_a2), B->server $b2u (want $want_b2u), server->A $a3d (want $want_b2u), A->server again $a3u (want 0/0/0)"
fi

# --------------------------------------------------------------------------
# step 4: both sides equal, and equal to the model
dA=$(dirs_equal "$w/exp" "$w/a/$book"); dB=$(dirs_equal "$w/exp" "$w/b/$book"); dAB=$(dirs_equal "$w/a/$book" "$w/b/$book")
if [ -z "$dAB" ] && [ "$(nfiles "$w/a/$book")" -eq "$EXPECTED" ] && [ "$(nfiles "$w/b/$book")" -eq "$EXPECTED" ]; then
    ok "4a A and B hold the same $EXPECTED UIDs ($N - ${#A_DEL[@]} - ${#B_DEL[@]} + ${#A_ADD[@]} + ${#B_ADD[@]}), byte-identical"
else
    bad "4a A and B equal with $EXPECTED cards (A $(nfiles "$w/a/$book"), B $(nfiles "$w/b/$book"))" "$dAB"
fi
bad_edit=""
for i in "${A_EDIT[@]}" "${B_EDIT[@]}" "${A_ADD[@]}" "${B_ADD[@]}"; do
    f=$(f_of "$i")
    cmp -s "$w/exp/$f" "$w/a/$book/$f" && cmp -s "$w/exp/$f" "$w/b/$book/$f" || bad_edit+="$i "
done
[ -z "$dA" ] && [ -z "$dB" ] && [ -z "$bad_edit" ] \
    && ok "4b every edited (${#A_EDIT[@]} in A, ${#B_EDIT[@]} in B) and added card has its new content on both sides; the rest is unchanged" \
    || bad "4b new content on both sides (cards not right: ${bad_edit:-none})" "$(printf 'A vs expected:\n%s\nB vs expected:\n%s' "$dA" "$dB")"
gone=""
for i in "${A_DEL[@]}" "${B_DEL[@]}"; do
    f=$(f_of "$i"); [ -e "$w/a/$book/$f" ] || [ -e "$w/b/$book/$f" ] && gone+="$i "
done
server_list list4
srv_del=""; for i in "${A_DEL[@]}" "${B_DEL[@]}"; do cut -f3 "$w/list4.tsv" | grep -qxF "$(f_of "$i")" && srv_del+="$i "; done
srv_names=$(cut -f3 "$w/list4.tsv" | sort); exp_names=$(ls "$w/exp" | sort)
if [ -z "$gone" ] && [ -z "$srv_del" ] && [ "$(wc -l < "$w/list4.tsv")" -eq "$EXPECTED" ] && [ "$srv_names" = "$exp_names" ]; then
    ok "4c the $(( ${#A_DEL[@]} + ${#B_DEL[@]} )) deleted cards are gone from A, B and the server; PROPFIND Depth 1 lists exactly the $EXPECTED expected members"
else
    bad "4c deletions everywhere; server listing" "still local: ${gone:-none}; still on server: ${srv_del:-none}; server members: $(wc -l < "$w/list4.tsv") (expected $EXPECTED)
$(diff <(echo "$exp_names") <(echo "$srv_names") | head -10)"
fi
server_fetch list4 srv4
d=$(dirs_equal "$w/exp" "$w/srv4")
[ -z "$d" ] && ok "4d GET of each of the $EXPECTED members returns the expected bytes" || bad "4d server content" "$d"
gone404=""
for i in "${A_DEL[@]}" "${B_DEL[@]}"; do
    c=$(curl_dav GET "${book_url:+$book_url$(f_of "$i" | sed 's/+/%2B/g')}" "" "" /dev/null)
    [ "$c" = 404 ] || gone404+="$i:$c "
done
[ -z "$gone404" ] && ok "4e GET of each deleted card gives 404" || bad "4e GET of deleted cards gives 404 (got ${gone404})"
# RFC 6578: the changes since the token taken after step 2
if [ -n "$tok2_sync" ] && [ "${tok2_sync#status-}" = "$tok2_sync" ]; then
    st=$(server_delta "$tok2_sync" delta4)
    exp_delta=$( { for i in "${A_EDIT[@]}" "${B_EDIT[@]}" "${A_ADD[@]}" "${B_ADD[@]}"; do printf '%s\t200\n' "$(f_of "$i")"; done
                   for i in "${A_DEL[@]}" "${B_DEL[@]}"; do printf '%s\t404\n' "$(f_of "$i")"; done; } | sort)
    got_delta=$(grep -v '^#token' "$w/delta4.tsv" | sort)
    if [ "$st" = 207 ] && [ "$exp_delta" = "$got_delta" ]; then
        ok "4f sync-collection from the step-2 token reports exactly the $(grep -c 200 <<<"$exp_delta") changed (200) and $(grep -c 404 <<<"$exp_delta") removed (404) members"
    else
        bad "4f RFC 6578 sync-collection delta since the step-2 token ($tok2_sync)" "REPORT -> $st; expected vs got (< missing, > unexpected):
$(diff <(echo "$exp_delta") <(echo "$got_delta") | grep '^[<>]' | head -12)"
    fi
else
    bad "4f no sync-token on the book after step 2 (PROPFIND: $tok2)"
fi

# --------------------------------------------------------------------------
# step 5: a no-op sync
noop_check() {   # LABEL STEP1 STEP2: sync A and B with -v debug; nothing may happen
    local label=$1 s1=$2 s2=$3 t_before t_after l1 l2 touched writes acts st rest
    t_before=$(server_tokens); server_list "pre-$label"
    touch "$w/marker"; sleep 1.1
    vds a "noop-a-$label" -v debug sync; rA=$?
    vds b "noop-b-$label" -v debug sync; rB=$?
    t_after=$(server_tokens); server_list "post-$label"
    acts=$(grep -hE "$ACTIONS" "$w/logs/noop-a-$label" "$w/logs/noop-b-$label" | head -5)
    writes=$(grep -hE "$WRITES" "$w/logs/noop-a-$label" "$w/logs/noop-b-$label" | head -5)
    touched=$(find "$w/a" "$w/b" -newer "$w/marker" -type f | head -5)
    if [ $rA = 0 ] && [ $rB = 0 ] && [ -z "$acts" ] && [ -z "$writes" ] && [ -z "$touched" ]; then
        ok "$s1 final sync of A and B is a no-op: no Copying/Updating/Deleting, no PUT/DELETE sent, no local file written"
    else
        bad "$s1 no-op sync" "exit codes A=$rA B=$rB; actions: ${acts:-none}; write requests: ${writes:-none}; files written: ${touched:-none}"
    fi
    st=""; [ "${t_before#* }" != "" ] && st=$(server_delta "${t_before#* }" "delta-$label")
    rest=$(grep -vc '^#token' "$w/delta-$label.tsv" 2>/dev/null)
    if [ "$t_before" = "$t_after" ] && [ "${t_before#status-}" = "$t_before" ] && [ -n "${t_before// /}" ] \
       && cmp -s "$w/pre-$label.tsv" "$w/post-$label.tsv" && [ "$st" = 207 ] && [ "$rest" = 0 ]; then
        ok "$s2 server unchanged by the no-op sync: getctag/sync-token '$t_before', all etags the same, empty sync-collection delta"
    else
        bad "$s2 server unchanged by the no-op sync" "getctag+sync-token before '$t_before', after '$t_after'; member etags equal: $(cmp -s "$w/pre-$label.tsv" "$w/post-$label.tsv" && echo yes || echo no); sync-collection from the old token -> $st with ${rest:-?} responses"
    fi
}
noop_check 5 5a 5b

# --------------------------------------------------------------------------
# step 6: a conflict. Both sides change the same card; A syncs first (its change
# reaches the server), so B's pair sees both sides changed; "a wins" there means
# B's local version wins, and the next sync of A brings it to A.
cf=$(f_of $CONFLICT)
gen_card $CONFLICT CA > "$w/a/$book/$cf"
gen_card $CONFLICT CB > "$w/b/$book/$cf"
gen_card $CONFLICT CB > "$w/exp/$cf"
s6=1
vds a sync-a6 sync || s6=0
vds b sync-b6 sync || s6=0
vds a sync-a7 sync || s6=0
if [ $s6 = 1 ] && grep -q "Doing conflict resolution for item ${UIDS[$CONFLICT]}" "$w/logs/sync-b6" \
   && grep -q "Copying (updating) item ${UIDS[$CONFLICT]} to remote" "$w/logs/sync-b6"; then
    ok "6a conflicting edits of ${UIDS[$CONFLICT]}: sync A, B, A ran; B's sync resolved the conflict (a wins) and updated the server"
else
    bad "6a conflict: sync A, B, A" "runs ok=$s6; B's log: $(grep -E "${UIDS[$CONFLICT]}" "$w/logs/sync-b6" | head -5)"
fi
server_list list6; server_fetch list6 srv6
dups=$(grep -l "^UID:${UIDS[$CONFLICT]}" "$w/a/$book/"*.vcf "$w/b/$book/"*.vcf "$w/srv6/"*.vcf 2>/dev/null | wc -l)
d=$( { dirs_equal "$w/exp" "$w/a/$book"; dirs_equal "$w/exp" "$w/b/$book"; dirs_equal "$w/exp" "$w/srv6"; } )
if [ -z "$d" ] && [ "$dups" -eq 3 ] && [ "$(wc -l < "$w/list6.tsv")" -eq "$EXPECTED" ] \
   && grep -q 'konflikt B' "$w/a/$book/$cf"; then
    ok "6b the winner (B's version) is in A, in B and on the server, once each; still $EXPECTED cards everywhere"
else
    bad "6b conflict winner everywhere, no duplicate" "files with that UID (A+B+server): $dups (want 3); server members: $(wc -l < "$w/list6.tsv"); A has: $(grep -a '^FN' "$w/a/$book/$cf" 2>/dev/null)
$d"
fi
noop_check 6 6c 6d

# --------------------------------------------------------------------------
# step 7: cleanup on the server
st=$(curl_dav DELETE "$book_url" "" "" /dev/null)
st2=$(curl_dav PROPFIND "$book_url" 0 "$PF_LIST" "$w/after-delete.xml")
if [[ $st == 20[04] ]] && [ "$st2" = 404 ]; then
    book_deleted=1; ok "7  DELETE of the address book -> $st, then PROPFIND -> 404"
else
    bad "7  DELETE of the address book -> $st (want 204/200), PROPFIND after it -> $st2 (want 404)"
fi

finish
