/* Optional fast reader of ISO 20022 camt.052/053/054 files for plugins/banks/camt.py.
 *
 * It drives CPython's own expat through the pyexpat C API capsule (no other library) with C
 * handlers that keep only what camt.py reads, and hands back per Stmt/Rpt/Ntfctn a header
 * (its children before the first Ntry, as a small tree) and per Ntry one tuple of ready strings.
 * It models the shapes real files have; on anything else (a repeated field, a comment inside
 * the message, a foreign namespace, Chrgs, a very large batch, a syntax error ...) it raises
 * Unsupported and camt.py reads the file with lxml instead, which also words every refusal.
 * Field semantics mirror camt.py's lxml readers (first or last occurrence, text before the
 * first child element); tests/test_bank_camt_fast.py compares both over every test file.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#if defined(__has_include)
#if __has_include(<expat.h>)
#define HAVE_EXPAT_H 1
#endif
#endif
#ifdef HAVE_EXPAT_H
#include <expat.h>
#else
/* No expat headers (libexpat1-dev) on this machine: the types pyexpat.h names, as expat.h 2.x
   declares them. Only CPython's own expat is called, through its capsule, never linked. */
typedef char XML_Char;
typedef char XML_LChar;
typedef unsigned long XML_Size;
typedef struct XML_ParserStruct *XML_Parser;
enum XML_Status { XML_STATUS_ERROR = 0, XML_STATUS_OK = 1, XML_STATUS_SUSPENDED = 2 };
enum XML_Error { XML_ERROR_NONE };
typedef struct { void *(*malloc_fcn)(size_t); void *(*realloc_fcn)(void *, size_t); void (*free_fcn)(void *); }
    XML_Memory_Handling_Suite;
typedef struct { int map[256]; void *data; int (*convert)(void *, const char *); void (*release)(void *); }
    XML_Encoding;
#ifndef XMLCALL
#define XMLCALL
#endif
typedef void (XMLCALL *XML_StartElementHandler)(void *, const XML_Char *, const XML_Char **);
typedef void (XMLCALL *XML_EndElementHandler)(void *, const XML_Char *);
typedef void (XMLCALL *XML_CharacterDataHandler)(void *, const XML_Char *, int);
typedef void (XMLCALL *XML_CommentHandler)(void *, const XML_Char *);
typedef void (XMLCALL *XML_DefaultHandler)(void *, const XML_Char *, int);
typedef void (XMLCALL *XML_StartNamespaceDeclHandler)(void *, const XML_Char *, const XML_Char *);
typedef void (XMLCALL *XML_EndNamespaceDeclHandler)(void *, const XML_Char *);
typedef void (XMLCALL *XML_ProcessingInstructionHandler)(void *, const XML_Char *, const XML_Char *);
typedef int (XMLCALL *XML_UnknownEncodingHandler)(void *, const XML_Char *, XML_Encoding *);
typedef void (XMLCALL *XML_StartDoctypeDeclHandler)(void *, const XML_Char *, const XML_Char *, const XML_Char *,
                                                    int);
#endif
#include "pyexpat.h"

static struct PyExpat_CAPI *capi;
static PyObject *DecimalType;
static PyObject *Unsupported;

#define MAXDEPTH 200

enum {
    X_OUT = 0, X_IGN, X_MSG, X_GRPHDR, X_GRP_CRE, X_STMT, X_HDR,
    X_NTRY, X_N_LEAF, X_N_STS, X_N_STS1, X_N_DATE, X_N_DATE_D, X_N_DTLS,
    X_BK, X_BK_DOMN, X_BK_DOMN_CD, X_BK_FMLY, X_BK_FMLY_CD, X_BK_SUB, X_BK_PRTRY, X_BK_PRTRY_CD,
    X_TX, X_T_REFS, X_T_REF, X_T_AMT, X_T_CDI, X_T_AMTDTLS, X_T_AMTKIND, X_T_AMTKIND_AMT,
    X_T_PTIES, X_T_ROLE, X_T_PTY, X_T_NM, X_T_PID, X_T_PID_KIND, X_T_OTHR, X_T_OTHR_ID,
    X_T_ACCT, X_T_ACCT_ID, X_T_ACCT_LEAF, X_T_ACCT_OTHR, X_T_ACCT_OTHR_ID,
    X_T_RMT, X_T_STRD, X_T_CREF, X_T_RFRD, X_T_RMT_LEAF, X_T_RTR, X_T_RSN, X_T_RSN_LEAF,
};

/* entry slots */
enum { E_AMT, E_CCY, E_CDI, E_RVSL, E_STS, E_STS1, E_BOOKG, E_VAL, E_ASR, E_NREF, E_INFO,
       E_BK0, E_BK1, E_BK2, E_BK3, NE };
/* transaction slots */
enum { T_E2E, T_ASR, T_TXID, T_UETR, T_INSTR, T_AMT, T_CCY, T_CDI, T_BK0, T_BK1, T_BK2, T_BK3,
       T_DN, T_DI, T_UN, T_UI, T_CN, T_CI, T_VN, T_VI, T_DACCT, T_CACCT, T_RSN, NT };

typedef struct {
    PyObject_HEAD
    XML_Parser parser;
    char msg1[64], msg2[64], stmt[32];
    Py_ssize_t limit;
    int depth;
    unsigned char ctx[MAXDEPTH];
    signed char aux[MAXDEPTH];      /* slot or role of the element at each depth */
    int cap_depth;                  /* depth whose text is being collected, or -1 */
    char *buf; Py_ssize_t buflen, bufcap;
    char ns[512]; Py_ssize_t nslen;
    int have_msg, msg_done, stmt_seen, grp_seen, hdr_emitted, ntry_in_stmt, dead;
    char why[200];
    PyObject *out;                  /* records of this feed */
    PyObject *grp_created;
    PyObject *hdr_nodes;            /* list of the statement's header nodes */
    PyObject *nodes[MAXDEPTH];      /* open header nodes (borrowed from their parents) */
    PyObject *e[NE];
    int e_dtls, e_date_got, e_bk_seen, e_sts_kids;
    PyObject *txs;
    PyObject *t[NT];
    PyObject *t_amtdtls, *t_rmt;
    int t_refs_seen, t_ptys_seen, t_bk_seen, role_seen[6], role, pty_seen, in_pty, othr_got, kind_got, rsn_got;
    PyObject *pname[4][2], *pid[4][2];
    int bkt;                        /* BkTxCd being read: 0 the entry's, 1 the transaction's */
    char bkb[2][4][64];             /* its Domn/Cd, Fmly/Cd, SubFmlyCd, Prtry/Cd (ASCII) */
    int bkl[2][4], bkset[2][4];
    int bk_fmly, bk_sub, bk_domn, bk_prtry;
    PyObject *amt_ccy;              /* Ccy of the AmtDtls amount being read */
} Scanner;

static void unsupported(Scanner *s, const char *why, const char *name)
{
    if (s->dead) return;
    s->dead = 1;
    snprintf(s->why, sizeof s->why, "%s%s%s", why, name ? ": " : "", name ? name : "");
}

static void clear_entry(Scanner *s)
{
    for (int i = 0; i < NE; i++) Py_CLEAR(s->e[i]);
    Py_CLEAR(s->txs);
    s->e_dtls = s->e_bk_seen = s->e_sts_kids = 0;
    memset(s->bkset[0], 0, sizeof s->bkset[0]);
}

static void clear_tx(Scanner *s)
{
    for (int i = 0; i < NT; i++) Py_CLEAR(s->t[i]);
    Py_CLEAR(s->t_amtdtls); Py_CLEAR(s->t_rmt);
    for (int r = 0; r < 4; r++) for (int k = 0; k < 2; k++) { Py_CLEAR(s->pname[r][k]); Py_CLEAR(s->pid[r][k]); }
    s->t_refs_seen = s->t_ptys_seen = s->t_bk_seen = 0;
    memset(s->bkset[1], 0, sizeof s->bkset[1]);
    memset(s->role_seen, 0, sizeof s->role_seen);
}

/* The collected text: raw (header nodes) or stripped like str.strip(). */
#define NCACHE 1024
static PyObject *cache[NCACHE];  /* the last short ASCII text per kind of field: most repeat */

static PyObject *cached(int key, const char *p, Py_ssize_t n)
{
    PyObject *c = cache[key % NCACHE];
    if (c && PyUnicode_GET_LENGTH(c) == n && memcmp(PyUnicode_DATA(c), p, n) == 0) {
        Py_INCREF(c);
        return c;
    }
    for (Py_ssize_t i = 0; i < n; i++) if ((unsigned char)p[i] >= 0x80) return NULL;
    c = PyUnicode_FromStringAndSize(p, n);
    if (c) { Py_XSETREF(cache[key % NCACHE], c); Py_INCREF(c); }
    return c;
}

static PyObject *text(Scanner *s, int strip, int key)
{
    const char *p = s->buf; Py_ssize_t n = s->buflen;
    if (strip) {
        while (n && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')) { p++; n--; }
        while (n && (p[n-1] == ' ' || p[n-1] == '\n' || p[n-1] == '\t' || p[n-1] == '\r')) n--;
        if (n <= 40 && key >= 0 && (n == 0 || (p[0] > ' ' && p[n-1] > ' '))) {
            PyObject *c = cached(key, p, n);
            if (c) return c;
        }
    }
    PyObject *u = PyUnicode_DecodeUTF8(p, n, NULL);
    if (!u) return NULL;
    Py_ssize_t len = PyUnicode_GET_LENGTH(u);
    if (strip && len && (Py_UNICODE_ISSPACE(PyUnicode_READ_CHAR(u, 0)) ||
                         Py_UNICODE_ISSPACE(PyUnicode_READ_CHAR(u, len - 1)))) {
        PyObject *v = PyObject_CallMethod(u, "strip", NULL);
        Py_DECREF(u);
        return v;
    }
    return u;
}

static void set_once(Scanner *s, PyObject **slot, PyObject *v, const char *what)
{
    if (*slot) { Py_DECREF(v); unsupported(s, "repeated element", what); return; }
    *slot = v;
}

static void keep_first(PyObject **slot, PyObject *v)
{
    if (*slot) { Py_DECREF(v); return; }
    *slot = v;
}

static void first_nonempty(PyObject **slot, PyObject *v)
{
    if (*slot && PyUnicode_GET_LENGTH(*slot)) { Py_DECREF(v); return; }
    Py_XSETREF(*slot, v);
}

static void append(Scanner *s, PyObject **list, PyObject *v)
{
    if (!*list && !(*list = PyList_New(0))) { Py_DECREF(v); unsupported(s, "memory", NULL); return; }
    if (PyList_Append(*list, v) < 0) unsupported(s, "memory", NULL);
    Py_DECREF(v);
}

#define DIGIT(c) ((c) >= '0' && (c) <= '9')

/* camt.py's _TIME, matched in full: (?:T(?:[01][0-9]|2[0-4]):[0-5][0-9]:(?:[0-5][0-9]|60)
   (?:[.,][0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})? */
static int valid_time(const char *p, const char *end)
{
    char tmp[64];
    if (end - p >= (Py_ssize_t)sizeof tmp) return 0;
    memcpy(tmp, p, end - p);
    tmp[end - p] = 0;
    p = tmp;
    if (*p == 'T') {
        if (!(((p[1] == '0' || p[1] == '1') && DIGIT(p[2])) || (p[1] == '2' && p[2] >= '0' && p[2] <= '4'))) return 0;
        if (p[3] != ':' || !(p[4] >= '0' && p[4] <= '5') || !DIGIT(p[5]) || p[6] != ':') return 0;
        if (!((p[7] >= '0' && p[7] <= '5' && DIGIT(p[8])) || (p[7] == '6' && p[8] == '0'))) return 0;
        p += 9;
        if (*p == '.' || *p == ',') {
            if (!DIGIT(p[1])) return 0;
            p++;
            while (DIGIT(*p)) p++;
        }
    }
    if (*p == 'Z') p++;
    else if (*p == '+' || *p == '-') {
        if (!DIGIT(p[1]) || !DIGIT(p[2])) return 0;
        p += 3;
        if (*p == ':') p++;
        if (!DIGIT(p[0]) || !DIGIT(p[1])) return 0;
        p += 2;
    }
    return *p == 0;
}

/* An amount that is plainly [0-9]+(.[0-9]+)? (ASCII) as a Decimal, which camt.py takes as
   checked; anything else stays text for camt.py's own check. Steals v. */
static PyObject *amount(PyObject *v)
{
    if (!PyUnicode_IS_ASCII(v)) return v;
    const char *p = (const char *)PyUnicode_DATA(v);
    if (!DIGIT(*p)) return v;
    while (DIGIT(*p)) p++;
    if (*p == '.') {
        p++;
        if (!DIGIT(*p)) return v;
        while (DIGIT(*p)) p++;
    }
    if (*p) return v;
    PyObject *d = PyObject_CallOneArg(DecimalType, v);
    if (!d) { PyErr_Clear(); return v; }
    Py_DECREF(v);
    return d;
}

/* The text of the element at depth d is complete (its end, or its first child element). */
static void finish_text(Scanner *s, int d)
{
    int c = s->ctx[d];
    if (c == X_BK_DOMN_CD || c == X_BK_FMLY_CD || c == X_BK_SUB || c == X_BK_PRTRY_CD) {
        /* codes stay bytes until the code string is made (make_code) */
        int k = c == X_BK_DOMN_CD ? 0 : c == X_BK_FMLY_CD ? 1 : c == X_BK_SUB ? 2 : 3;
        const char *p = s->buf; Py_ssize_t n = s->buflen;
        s->cap_depth = -1;
        while (n && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')) { p++; n--; }
        while (n && (p[n-1] == ' ' || p[n-1] == '\n' || p[n-1] == '\t' || p[n-1] == '\r')) n--;
        if (n >= 64) { unsupported(s, "long bank transaction code", NULL); return; }
        for (Py_ssize_t i = 0; i < n; i++)
            if ((unsigned char)p[i] >= 0x80) { unsupported(s, "non-ASCII bank transaction code", NULL); return; }
        if (s->bkset[s->bkt][k]) { unsupported(s, "repeated element", "BkTxCd"); return; }
        s->bkset[s->bkt][k] = 1;
        memcpy(s->bkb[s->bkt][k], p, n);
        s->bkl[s->bkt][k] = (int)n;
        return;
    }
    if (c == X_N_DATE_D) {
        /* a date-time whose time part camt.py's _TIME accepts: its date as written, the first
           10 characters (camt.py _known_date), without making the whole text a str */
        const char *p = s->buf; Py_ssize_t n = s->buflen;
        while (n && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')) { p++; n--; }
        while (n && (p[n-1] == ' ' || p[n-1] == '\n' || p[n-1] == '\t' || p[n-1] == '\r')) n--;
        if (n > 10 && (unsigned char)p[0] > ' ' && valid_time(p + 10, p + n)) {
            PyObject *day = cached(c * 32 + s->aux[d], p, 10);
            if (day) { s->cap_depth = -1; keep_first(&s->e[(int)s->aux[d]], day); return; }
        }
    }
    /* amounts and references are unique per line, not worth a cache */
    int key = c == X_T_REF || c == X_T_AMT || c == X_T_AMTKIND_AMT || (c == X_N_LEAF && (s->aux[d] == E_AMT ||
              s->aux[d] == E_ASR || s->aux[d] == E_NREF)) ? -1 : c * 32 + s->aux[d];
    PyObject *v = text(s, c != X_HDR && c != X_GRP_CRE, key);
    s->cap_depth = -1;
    if (!v) { PyErr_Clear(); unsupported(s, "bad text", NULL); return; }
    switch (c) {
    case X_HDR:
        if (PyList_SetItem(s->nodes[d], 1, v) < 0) unsupported(s, "memory", NULL);
        return;
    case X_GRP_CRE: keep_first(&s->grp_created, v); return;
    case X_N_LEAF:
        if (s->aux[d] == E_AMT) v = amount(v);
        set_once(s, &s->e[(int)s->aux[d]], v, "Ntry field"); return;
    case X_N_STS: set_once(s, &s->e[E_STS], v, "Sts"); return;
    case X_N_STS1: set_once(s, &s->e[E_STS1], v, "Sts"); return;
    case X_N_DATE_D:
        if (PyUnicode_GET_LENGTH(v) > 10 && PyUnicode_IS_ASCII(v) &&
            valid_time((const char *)PyUnicode_DATA(v) + 10, (const char *)PyUnicode_DATA(v) + PyUnicode_GET_LENGTH(v))) {
            /* a date-time: its date as written is the first 10 characters (camt.py _known_date) */
            PyObject *day = PyUnicode_Substring(v, 0, 10);
            Py_DECREF(v);
            if (!day) { PyErr_Clear(); unsupported(s, "memory", NULL); return; }
            v = day;
        }
        keep_first(&s->e[(int)s->aux[d]], v); return;
    case X_T_REF: first_nonempty(&s->t[(int)s->aux[d]], v); return;
    case X_T_AMT: set_once(s, &s->t[T_AMT], amount(v), "TxDtls/Amt"); return;
    case X_T_CDI: set_once(s, &s->t[T_CDI], v, "TxDtls/CdtDbtInd"); return;
    case X_T_AMTKIND_AMT: {
        v = amount(v);
        PyObject *pair = PyTuple_Pack(2, v, s->amt_ccy ? s->amt_ccy : Py_None);
        Py_DECREF(v);
        if (!pair) { unsupported(s, "memory", NULL); return; }
        append(s, &s->t_amtdtls, pair);
        return;
    }
    case X_T_NM: {
        PyObject **slot = &s->pname[s->role][s->in_pty];
        first_nonempty(slot, v);
        return;
    }
    case X_T_OTHR_ID: first_nonempty(&s->pid[s->role][s->in_pty], v); return;
    case X_T_ACCT_LEAF: case X_T_ACCT_OTHR_ID:
        keep_first(&s->t[s->role == 4 ? T_DACCT : T_CACCT], v); return;
    case X_T_RMT_LEAF: append(s, &s->t_rmt, v); return;
    case X_T_RSN_LEAF: Py_XSETREF(s->t[T_RSN], v); return;
    default: Py_DECREF(v); return;
    }
}

static int eq(const char *a, const char *b) { return strcmp(a, b) == 0; }

static int special(Scanner *s, const char *local)
{
    char c = local[0];
    if (c != 'N' && c != 'T' && c != 'B' && c != s->stmt[0]) return 0;
    return eq(local, "Ntry") || eq(local, "TxDtls") || eq(local, s->stmt) || eq(local, s->msg1) || eq(local, s->msg2);
}

static PyObject *attr(const XML_Char **atts, const char *name)
{
    for (; atts && atts[0]; atts += 2)
        if (eq(atts[0], name)) {
            Py_ssize_t n = strlen(atts[1]);
            PyObject *c = n <= 16 ? cached(NCACHE - 1, atts[1], n) : NULL;
            return c ? c : PyUnicode_DecodeUTF8(atts[1], n, NULL);
        }
    return NULL;
}

static void start_header_node(Scanner *s, const char *local, const XML_Char **atts, int d)
{
    PyObject *attrs = PyDict_New();
    for (const XML_Char **a = atts; a && a[0]; a += 2) {
        PyObject *v = PyUnicode_DecodeUTF8(a[1], strlen(a[1]), NULL);
        if (!v || PyDict_SetItemString(attrs, a[0], v) < 0) { PyErr_Clear(); unsupported(s, "bad attribute", local); }
        Py_XDECREF(v);
    }
    PyObject *node = Py_BuildValue("[sOON]", local, Py_None, attrs, PyList_New(0));
    Py_DECREF(attrs);
    if (!node) { PyErr_Clear(); unsupported(s, "memory", NULL); return; }
    PyObject *parent = s->ctx[d - 1] == X_HDR ? PyList_GET_ITEM(s->nodes[d - 1], 3) : s->hdr_nodes;
    PyList_Append(parent, node);
    s->nodes[d] = node;
    Py_DECREF(node);
}

static void emit_header(Scanner *s)
{
    PyObject *rec = Py_BuildValue("(iOO)", 1, s->hdr_nodes, s->grp_created ? s->grp_created : Py_None);
    if (!rec || PyList_Append(s->out, rec) < 0) { PyErr_Clear(); unsupported(s, "memory", NULL); }
    Py_XDECREF(rec);
    s->hdr_emitted = 1;
}

static void XMLCALL on_start(void *data, const XML_Char *name, const XML_Char **atts)
{
    Scanner *s = data;
    if (s->dead) return;
    int d = ++s->depth;
    if (d >= MAXDEPTH) { unsupported(s, "nesting too deep", NULL); return; }
    const char *sep = strchr(name, '\x01');
    const char *local = sep ? sep + 1 : name;
    Py_ssize_t nslen = sep ? sep - name : 0;
    int parent = s->ctx[d - 1];
    if (s->cap_depth == d - 1) finish_text(s, d - 1);
    if (s->dead) return;
    int c = X_IGN, aux = 0, want = 0;
    if (parent != X_OUT && (nslen != s->nslen || memcmp(name, s->ns, nslen) != 0)) {
        unsupported(s, "element of another namespace", local); return;
    }
    switch (parent) {
    case X_OUT:
        if (!s->have_msg && (eq(local, s->msg1) || eq(local, s->msg2))) {
            if (nslen >= (Py_ssize_t)sizeof s->ns) { unsupported(s, "namespace too long", NULL); return; }
            memcpy(s->ns, name, nslen); s->nslen = nslen; s->have_msg = 1; c = X_MSG;
            PyObject *rec = Py_BuildValue("(is#s)", 0, name, nslen, local);
            if (!rec || PyList_Append(s->out, rec) < 0) { PyErr_Clear(); unsupported(s, "memory", NULL); }
            Py_XDECREF(rec);
        } else if (special(s, local)) { unsupported(s, "camt element outside the message", local); return; }
        else c = X_OUT;
        break;
    case X_MSG:
        if (eq(local, s->stmt)) {
            c = X_STMT; s->stmt_seen = 1; s->hdr_emitted = 0; s->ntry_in_stmt = 0;
            Py_XSETREF(s->hdr_nodes, PyList_New(0));
        } else if (eq(local, "GrpHdr") && !s->stmt_seen && !s->grp_seen) { c = X_GRPHDR; s->grp_seen = 1; }
        break;
    case X_GRPHDR: if (eq(local, "CreDtTm")) { c = X_GRP_CRE; want = 1; } break;
    case X_STMT:
        if (eq(local, "Ntry")) {
            c = X_NTRY;
            if (!s->hdr_emitted) emit_header(s);
            s->ntry_in_stmt = 1;
            clear_entry(s);
        } else if (!s->ntry_in_stmt) { c = X_HDR; want = 1; start_header_node(s, local, atts, d); }
        break;
    case X_HDR: c = X_HDR; want = 1; start_header_node(s, local, atts, d); break;
    case X_NTRY:
        if (s->e_dtls && !eq(local, "AddtlNtryInf")) {
            if (eq(local, "Amt") || eq(local, "CdtDbtInd") || eq(local, "RvslInd") || eq(local, "Sts") ||
                eq(local, "BookgDt") || eq(local, "ValDt") || eq(local, "AcctSvcrRef") || eq(local, "NtryRef") ||
                eq(local, "BkTxCd") || eq(local, "Chrgs") || eq(local, "NtryDtls")) {
                unsupported(s, "entry field after NtryDtls", local); return;
            }
            break;
        }
        if (eq(local, "Amt")) {
            c = X_N_LEAF; aux = E_AMT; want = 1;
            PyObject *ccy = attr(atts, "Ccy");
            if (s->e[E_CCY] || s->e[E_AMT]) { Py_XDECREF(ccy); unsupported(s, "repeated element", "Ntry/Amt"); return; }
            s->e[E_CCY] = ccy ? ccy : (Py_INCREF(Py_None), Py_None);
        }
        else if (eq(local, "CdtDbtInd")) { c = X_N_LEAF; aux = E_CDI; want = 1; }
        else if (eq(local, "RvslInd")) { c = X_N_LEAF; aux = E_RVSL; want = 1; }
        else if (eq(local, "Sts")) {
            if (s->e[E_STS] || s->e_sts_kids) { unsupported(s, "repeated element", "Sts"); return; }
            c = X_N_STS; want = 1;
        }
        else if (eq(local, "BookgDt") || eq(local, "ValDt")) {
            aux = local[0] == 'B' ? E_BOOKG : E_VAL;
            if (s->e[aux]) { unsupported(s, "repeated element", local); return; }
            c = X_N_DATE; s->e_date_got = 0;
        }
        else if (eq(local, "AcctSvcrRef")) { c = X_N_LEAF; aux = E_ASR; want = 1; }
        else if (eq(local, "NtryRef")) { c = X_N_LEAF; aux = E_NREF; want = 1; }
        else if (eq(local, "AddtlNtryInf")) { c = X_N_LEAF; aux = E_INFO; want = 1; }
        else if (eq(local, "BkTxCd")) {
            if (s->e_bk_seen) { unsupported(s, "repeated element", "BkTxCd"); return; }
            s->e_bk_seen = 1; c = X_BK; s->bkt = 0; s->bk_fmly = s->bk_sub = s->bk_domn = s->bk_prtry = 0;
        }
        else if (eq(local, "NtryDtls")) { c = X_N_DTLS; s->e_dtls = 1; }
        else if (eq(local, "Chrgs")) { unsupported(s, "charges", NULL); return; }
        break;
    case X_N_STS:
        if (!s->e_sts_kids++) { c = X_N_STS1; want = 1; }
        break;
    case X_N_DATE:
        if ((eq(local, "Dt") || eq(local, "DtTm")) && !s->e_date_got) {
            c = X_N_DATE_D; aux = s->aux[d - 1]; want = 1; s->e_date_got = 1;
        }
        break;
    case X_N_DTLS:
        if (eq(local, "TxDtls")) {
            c = X_TX; clear_tx(s);
            if (s->txs && PyList_GET_SIZE(s->txs) >= s->limit) { unsupported(s, "batch too large", NULL); return; }
        }
        break;
    case X_BK:
        if (eq(local, "Domn")) {
            if (s->bk_domn++) { unsupported(s, "repeated element", "Domn"); return; }
            c = X_BK_DOMN;
        } else if (eq(local, "Prtry")) {
            if (s->bk_prtry++) { unsupported(s, "repeated element", "Prtry"); return; }
            c = X_BK_PRTRY;
        }
        break;
    case X_BK_DOMN:
        if (eq(local, "Cd") && !s->bk_fmly) { c = X_BK_DOMN_CD; want = 1; }
        else if (eq(local, "Fmly") && !s->bk_fmly) { c = X_BK_FMLY; s->bk_fmly = 1; }
        else { unsupported(s, "unusual Domn", local); return; }
        break;
    case X_BK_FMLY:
        if (eq(local, "Cd") && !s->bk_sub) { c = X_BK_FMLY_CD; want = 1; }
        else if (eq(local, "SubFmlyCd")) { c = X_BK_SUB; want = 1; s->bk_sub = 1; }
        else { unsupported(s, "unusual Fmly", local); return; }
        break;
    case X_BK_PRTRY:
        if (eq(local, "Cd")) { c = X_BK_PRTRY_CD; want = 1; }
        break;
    case X_TX:
        if (eq(local, "Refs")) { c = X_T_REFS; }
        else if (eq(local, "Amt")) {
            c = X_T_AMT; want = 1;
            if (s->t[T_CCY]) { unsupported(s, "repeated element", "TxDtls/Amt"); return; }
            PyObject *ccy = attr(atts, "Ccy");
            s->t[T_CCY] = ccy ? ccy : (Py_INCREF(Py_None), Py_None);
        }
        else if (eq(local, "CdtDbtInd")) { c = X_T_CDI; want = 1; }
        else if (eq(local, "AmtDtls")) { c = X_T_AMTDTLS; }
        else if (eq(local, "BkTxCd")) {
            if (s->t_bk_seen++) { unsupported(s, "repeated element", "BkTxCd"); return; }
            c = X_BK; s->bkt = 1; s->bk_fmly = s->bk_sub = s->bk_domn = s->bk_prtry = 0;
        }
        else if (eq(local, "RltdPties")) {
            if (s->t_ptys_seen++) { unsupported(s, "repeated element", "RltdPties"); return; }
            c = X_T_PTIES;
        }
        else if (eq(local, "RmtInf")) { c = X_T_RMT; }
        else if (eq(local, "AddtlTxInf")) { c = X_T_RMT_LEAF; want = 1; }
        else if (eq(local, "RtrInf")) { c = X_T_RTR; }
        else if (eq(local, "Chrgs")) { unsupported(s, "charges", NULL); return; }
        break;
    case X_T_REFS:
        c = X_T_REF; want = 1;
        if (eq(local, "EndToEndId")) aux = T_E2E;
        else if (eq(local, "AcctSvcrRef")) aux = T_ASR;
        else if (eq(local, "TxId")) aux = T_TXID;
        else if (eq(local, "UETR")) aux = T_UETR;
        else if (eq(local, "InstrId")) aux = T_INSTR;
        else { c = X_IGN; want = 0; }
        break;
    case X_T_AMTDTLS:
        if (eq(local, "TxAmt") || eq(local, "CntrValAmt") || eq(local, "InstdAmt")) { c = X_T_AMTKIND; s->kind_got = 0; }
        break;
    case X_T_AMTKIND:
        if (eq(local, "Amt") && !s->kind_got) {
            c = X_T_AMTKIND_AMT; want = 1; s->kind_got = 1;
            Py_XSETREF(s->amt_ccy, attr(atts, "Ccy"));
        }
        break;
    case X_T_PTIES: {
        int r = eq(local, "Dbtr") ? 0 : eq(local, "UltmtDbtr") ? 1 : eq(local, "Cdtr") ? 2 : eq(local, "UltmtCdtr") ? 3
              : eq(local, "DbtrAcct") ? 4 : eq(local, "CdtrAcct") ? 5 : -1;
        if (r < 0) break;
        if (s->role_seen[r]++) { unsupported(s, "repeated element", local); return; }
        s->role = r;
        if (r < 4) { c = X_T_ROLE; s->pty_seen = 0; s->in_pty = 0; }
        else c = X_T_ACCT;
        break;
    }
    case X_T_ROLE: case X_T_PTY:
        if (eq(local, "Nm")) { c = X_T_NM; want = 1; }
        else if (eq(local, "Id")) { c = X_T_PID; }
        else if (eq(local, "Pty")) {
            if (parent == X_T_PTY || s->pty_seen++) { unsupported(s, "unusual party", local); return; }
            c = X_T_PTY; s->in_pty = 1;
        }
        break;
    case X_T_PID:
        if (eq(local, "OrgId") || eq(local, "PrvtId")) c = X_T_PID_KIND;
        break;
    case X_T_PID_KIND:
        if (eq(local, "Othr")) { c = X_T_OTHR; s->othr_got = 0; }
        break;
    case X_T_OTHR:
        if (eq(local, "Id") && !s->othr_got) { c = X_T_OTHR_ID; want = 1; s->othr_got = 1; }
        break;
    case X_T_ACCT:
        if (eq(local, "Id")) c = X_T_ACCT_ID;
        break;
    case X_T_ACCT_ID:
        if (eq(local, "IBAN") || eq(local, "BBAN") || eq(local, "UPIC")) { c = X_T_ACCT_LEAF; want = 1; }
        else if (eq(local, "Othr") || eq(local, "PrtryAcct")) c = X_T_ACCT_OTHR;
        break;
    case X_T_ACCT_OTHR:
        if (eq(local, "Id")) { c = X_T_ACCT_OTHR_ID; want = 1; }
        break;
    case X_T_RMT:
        if (eq(local, "Ustrd")) { c = X_T_RMT_LEAF; want = 1; }
        else if (eq(local, "Strd")) c = X_T_STRD;
        break;
    case X_T_STRD:
        if (eq(local, "CdtrRefInf")) c = X_T_CREF;
        else if (eq(local, "RfrdDocInf")) c = X_T_RFRD;
        else if (eq(local, "AddtlRmtInf")) { c = X_T_RMT_LEAF; want = 1; }
        break;
    case X_T_CREF:
        if (eq(local, "Ref") || eq(local, "CdtrRef")) { c = X_T_RMT_LEAF; want = 1; }
        break;
    case X_T_RFRD:
        if (eq(local, "Nb")) { c = X_T_RMT_LEAF; want = 1; }
        break;
    case X_T_RTR:
        if (eq(local, "Rsn")) { c = X_T_RSN; s->rsn_got = 0; }
        break;
    case X_T_RSN:
        if ((eq(local, "Cd") || eq(local, "Prtry")) && !s->rsn_got) { c = X_T_RSN_LEAF; want = 1; s->rsn_got = 1; }
        break;
    default:
        break;
    }
    if (c != X_MSG && c != X_STMT && c != X_NTRY && c != X_TX && parent != X_OUT && special(s, local)) {
        unsupported(s, "camt element in an unusual place", local); return;
    }
    if (c == X_OUT && s->msg_done && special(s, local)) { unsupported(s, "camt element after the message", local); return; }
    s->ctx[d] = (unsigned char)c;
    s->aux[d] = (signed char)aux;
    if (want) { s->cap_depth = d; s->buflen = 0; }
}


/* camt.py's bank_code(): Domn/Cd, Fmly/Cd, SubFmlyCd joined by "/", then Prtry/Cd with its
   spaces as "_", the two parts separated by a space. */
static PyObject *make_code(Scanner *s, int t)
{
    char out[4 * 64 + 4];
    int n = 0;
    const int *set = s->bkset[t], *len = s->bkl[t];
    for (int i = 0; i < 3; i++) {
        if (!set[i] || !len[i]) continue;
        if (n) out[n++] = '/';
        memcpy(out + n, s->bkb[t][i], len[i]);
        n += len[i];
    }
    if (set[3] && len[3]) {
        if (n) out[n++] = ' ';
        for (int i = 0; i < len[3]; i++) {
            char c = s->bkb[t][3][i];
            out[n++] = c == ' ' ? '_' : c;
        }
    }
    return cached(NCACHE - 2 - t, out, n);  /* ASCII by construction; codes repeat */
}

static void end_tx(Scanner *s)
{
    /* (e2e, asr, txid, uetr, instr, amt, ccy, cdi, amtdtls, bk0..3, dn, di, un, ui, cn, ci, vn, vi,
        dacct, cacct, rsn, remittance) */
    for (int r = 0; r < 4; r++) {
        /* a role with Pty takes Pty's values only (camt.py: party() returns party(Pty)); its
           end filled them with "" when Pty had none */
        int k = s->pname[r][1] || s->pid[r][1] ? 1 : 0;
        s->t[T_DN + 2 * r] = s->pname[r][k]; s->pname[r][k] = NULL;
        s->t[T_DI + 2 * r] = s->pid[r][k]; s->pid[r][k] = NULL;
    }
    PyObject *code = make_code(s, 1);
    if (!code) { PyErr_Clear(); unsupported(s, "memory", NULL); return; }
    s->t[T_BK0] = code;
    PyObject *tup = PyTuple_New(NT + 2);
    if (!tup) { PyErr_Clear(); unsupported(s, "memory", NULL); return; }
    for (int i = 0; i < NT; i++) {
        PyObject *v = s->t[i];
        if (!v) v = (i == T_AMT || i == T_CDI || i == T_CCY) ? (Py_INCREF(Py_None), Py_None) : PyUnicode_New(0, 0);
        else s->t[i] = NULL;
        PyTuple_SET_ITEM(tup, i, v);
    }
    /* absent lists are the empty tuple, which camt.py reads the same way */
    PyTuple_SET_ITEM(tup, NT, s->t_amtdtls ? s->t_amtdtls : PyTuple_New(0)); s->t_amtdtls = NULL;
    PyTuple_SET_ITEM(tup, NT + 1, s->t_rmt ? s->t_rmt : PyTuple_New(0)); s->t_rmt = NULL;
    append(s, &s->txs, tup);
    clear_tx(s);
}

static void end_entry(Scanner *s)
{
    PyObject *code = make_code(s, 0);
    if (!code) { PyErr_Clear(); unsupported(s, "memory", NULL); return; }
    s->e[E_BK0] = code;
    PyObject *tup = PyTuple_New(NE + 2);
    if (!tup) { PyErr_Clear(); unsupported(s, "memory", NULL); return; }
    PyTuple_SET_ITEM(tup, 0, PyLong_FromLong(2));
    for (int i = 0; i < NE; i++) {
        PyObject *v = s->e[i];
        if (!v) v = (i == E_AMT || i == E_CDI || i == E_CCY || i == E_STS || i == E_STS1 || i == E_BOOKG ||
                     i == E_VAL) ? (Py_INCREF(Py_None), Py_None) : PyUnicode_New(0, 0);
        else s->e[i] = NULL;
        PyTuple_SET_ITEM(tup, i + 1, v);
    }
    PyTuple_SET_ITEM(tup, NE + 1, s->txs ? s->txs : PyList_New(0)); s->txs = NULL;
    if (PyList_Append(s->out, tup) < 0) { PyErr_Clear(); unsupported(s, "memory", NULL); }
    Py_DECREF(tup);
    clear_entry(s);
}

static void XMLCALL on_end(void *data, const XML_Char *name)
{
    Scanner *s = data;
    if (s->dead) return;
    int d = s->depth;
    if (s->cap_depth == d) finish_text(s, d);
    if (s->dead) return;
    switch (s->ctx[d]) {
    case X_MSG: s->msg_done = 1; break;
    case X_STMT: {
        if (!s->hdr_emitted) emit_header(s);
        PyObject *rec = Py_BuildValue("(i)", 3);
        if (!rec || PyList_Append(s->out, rec) < 0) { PyErr_Clear(); unsupported(s, "memory", NULL); }
        Py_XDECREF(rec);
        break;
    }
    case X_N_DATE: if (!s->e_date_got) unsupported(s, "date without Dt or DtTm", NULL); break;
    case X_T_PTY: s->in_pty = 0; break;
    case X_T_ROLE:
        if (s->pty_seen) {
            /* camt.py returns what Pty holds, whatever came beside it */
            int r = s->role;
            if (!s->pname[r][1]) s->pname[r][1] = PyUnicode_New(0, 0);
            if (!s->pid[r][1]) s->pid[r][1] = PyUnicode_New(0, 0);
        }
        break;
    case X_TX: end_tx(s); break;
    case X_NTRY: end_entry(s); break;
    default: break;
    }
    s->depth--;
}

static void XMLCALL on_chars(void *data, const XML_Char *p, int n)
{
    Scanner *s = data;
    if (s->cap_depth != s->depth || s->dead) return;
    if (s->buflen + n > s->bufcap) {
        Py_ssize_t cap = (s->buflen + n) * 2;
        if (cap > (1 << 24)) { unsupported(s, "text too long", NULL); return; }
        char *b = PyMem_Realloc(s->buf, cap);
        if (!b) { unsupported(s, "memory", NULL); return; }
        s->buf = b; s->bufcap = cap;
    }
    memcpy(s->buf + s->buflen, p, n);
    s->buflen += n;
}

static void XMLCALL on_comment(void *data, const XML_Char *c)
{
    Scanner *s = data;
    if (s->have_msg && !s->msg_done) unsupported(s, "comment inside the message", NULL);
}

static void XMLCALL on_pi(void *data, const XML_Char *t, const XML_Char *c)
{
    Scanner *s = data;
    if (s->have_msg && !s->msg_done) unsupported(s, "processing instruction inside the message", NULL);
}

static void XMLCALL on_doctype(void *data, const XML_Char *n, const XML_Char *sys, const XML_Char *pub, int internal)
{
    unsupported((Scanner *)data, "DOCTYPE", NULL);
}

static int Scanner_init(Scanner *s, PyObject *args, PyObject *kw)
{
    const char *m1, *m2, *st;
    Py_ssize_t limit;
    if (!PyArg_ParseTuple(args, "sssn", &m1, &m2, &st, &limit)) return -1;
    if (strlen(m1) >= sizeof s->msg1 || strlen(m2) >= sizeof s->msg2 || strlen(st) >= sizeof s->stmt) {
        PyErr_SetString(PyExc_ValueError, "name too long"); return -1;
    }
    strcpy(s->msg1, m1); strcpy(s->msg2, m2); strcpy(s->stmt, st);
    s->limit = limit;
    if (s->parser) capi->ParserFree(s->parser);
    s->parser = capi->ParserCreate_MM(NULL, NULL, "\x01");
    if (!s->parser) { PyErr_NoMemory(); return -1; }
    capi->SetUserData(s->parser, s);
    capi->SetElementHandler(s->parser, on_start, on_end);
    capi->SetCharacterDataHandler(s->parser, on_chars);
    capi->SetCommentHandler(s->parser, on_comment);
    capi->SetProcessingInstructionHandler(s->parser, on_pi);
    capi->SetStartDoctypeDeclHandler(s->parser, on_doctype);
    s->cap_depth = -1;
    s->ctx[0] = X_OUT;
    return 0;
}

static PyObject *Scanner_feed(Scanner *s, PyObject *args)
{
    Py_buffer data;
    int final = 0;
    if (!PyArg_ParseTuple(args, "y*|p", &data, &final)) return NULL;
    if (s->dead) { PyBuffer_Release(&data); PyErr_SetString(Unsupported, s->why); return NULL; }
    s->out = PyList_New(0);
    if (!s->out) { PyBuffer_Release(&data); return NULL; }
    if (data.len > INT_MAX) { PyBuffer_Release(&data); Py_CLEAR(s->out); PyErr_SetString(Unsupported, "chunk too big"); return NULL; }
    int ok = capi->Parse(s->parser, data.buf, (int)data.len, final);
    PyBuffer_Release(&data);
    if (ok != XML_STATUS_OK && !s->dead) {
        enum XML_Error code = capi->GetErrorCode(s->parser);
        snprintf(s->why, sizeof s->why, "%s at line %lu, column %lu", capi->ErrorString(code),
                 (unsigned long)capi->GetErrorLineNumber(s->parser), (unsigned long)capi->GetErrorColumnNumber(s->parser));
        s->dead = 1;
    }
    if (s->dead) { Py_CLEAR(s->out); PyErr_SetString(Unsupported, s->why); return NULL; }
    PyObject *out = s->out;
    s->out = NULL;
    return out;
}

static void Scanner_dealloc(Scanner *s)
{
    if (s->parser) capi->ParserFree(s->parser);
    clear_entry(s); clear_tx(s);
    Py_XDECREF(s->hdr_nodes); Py_XDECREF(s->grp_created); Py_XDECREF(s->amt_ccy); Py_XDECREF(s->out);
    PyMem_Free(s->buf);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static PyMethodDef Scanner_methods[] = {
    {"feed", (PyCFunction)Scanner_feed, METH_VARARGS,
     "feed(data, final=False) -> list of records; raises Unsupported on what it does not model."},
    {NULL}
};

static PyTypeObject ScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "conciliador._camtscan.Scanner",
    .tp_basicsize = sizeof(Scanner),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Scanner_init,
    .tp_dealloc = (destructor)Scanner_dealloc,
    .tp_methods = Scanner_methods,
    .tp_doc = "Scanner(message, message_v01, statement, batch_limit): streaming camt reader.",
};

static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "_camtscan", "Fast camt reader (see camt.py).", -1, NULL};

PyMODINIT_FUNC PyInit__camtscan(void)
{
    capi = PyCapsule_Import(PyExpat_CAPSULE_NAME, 0);
    if (!capi) return NULL;
    if (strcmp(capi->magic, PyExpat_CAPI_MAGIC) != 0 || (size_t)capi->size < sizeof(struct PyExpat_CAPI)) {
        PyErr_SetString(PyExc_ImportError, "pyexpat C API version mismatch");
        return NULL;
    }
    PyObject *decimal = PyImport_ImportModule("decimal");
    if (!decimal) return NULL;
    DecimalType = PyObject_GetAttrString(decimal, "Decimal");
    Py_DECREF(decimal);
    if (!DecimalType) return NULL;
    if (PyType_Ready(&ScannerType) < 0) return NULL;
    PyObject *m = PyModule_Create(&moddef);
    if (!m) return NULL;
    Unsupported = PyErr_NewException("conciliador._camtscan.Unsupported", PyExc_ValueError, NULL);
    Py_INCREF(&ScannerType);
    if (PyModule_AddObject(m, "Scanner", (PyObject *)&ScannerType) < 0 ||
        PyModule_AddObject(m, "Unsupported", Unsupported) < 0) return NULL;
    Py_INCREF(Unsupported);
    return m;
}
