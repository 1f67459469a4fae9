/* text: see text.h. Written by hand rather than with ICU because all we need
 * is Latin-script folding for English and Spanish; the stemming itself is
 * Snowball's (libstemmer), the standard for both languages. */
#include "text.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libstemmer.h>

#include "strmap.h"

struct text_analyzer {
	struct sb_stemmer *stem[2];
	char **syn_from, **syn_to;       /* a clinic's own synonyms (folded words) */
	size_t n_syn;
};

static void free_synonyms(text_analyzer *ta)
{
	for (size_t i = 0; i < ta->n_syn; i++) {
		free(ta->syn_from[i]);
		free(ta->syn_to[i]);
	}
	free(ta->syn_from);
	free(ta->syn_to);
	ta->syn_from = ta->syn_to = NULL;
	ta->n_syn = 0;
}

text_analyzer *text_analyzer_new(void)
{
	text_analyzer *ta = calloc(1, sizeof *ta);
	if (!ta)
		return NULL;
	ta->stem[TEXT_LANG_EN] = sb_stemmer_new("english", NULL);
	ta->stem[TEXT_LANG_ES] = sb_stemmer_new("spanish", NULL);
	if (!ta->stem[0] || !ta->stem[1]) {
		text_analyzer_free(ta);
		return NULL;
	}
	return ta;
}

void text_analyzer_free(text_analyzer *ta)
{
	if (!ta)
		return;
	sb_stemmer_delete(ta->stem[0]);
	sb_stemmer_delete(ta->stem[1]);
	free_synonyms(ta);
	free(ta);
}

int text_set_synonyms(text_analyzer *ta, const char *const *from, const char *const *to, size_t n)
{
	char buf[TEXT_MAX_WORD * 8];
	const char *w[8];
	free_synonyms(ta);
	if (n == 0)
		return 0;
	ta->syn_from = calloc(n, sizeof *ta->syn_from);
	ta->syn_to = calloc(n, sizeof *ta->syn_to);
	if (!ta->syn_from || !ta->syn_to) {
		free_synonyms(ta);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		/* Folded like the words they will meet: "Pap" -> "pap". */
		size_t nw = text_words(from[i], strlen(from[i]), buf, sizeof buf, w, 8);
		char joined[256] = "";
		size_t jl = 0;
		if (nw != 1)
			continue; /* one word to one or more words */
		ta->syn_from[ta->n_syn] = strdup(w[0]);
		nw = text_words(to[i], strlen(to[i]), buf, sizeof buf, w, 8);
		for (size_t k = 0; k < nw && jl + strlen(w[k]) + 2 < sizeof joined; k++)
			jl += (size_t)snprintf(joined + jl, sizeof joined - jl, "%s%s", k ? " " : "", w[k]);
		ta->syn_to[ta->n_syn] = strdup(joined);
		if (!ta->syn_from[ta->n_syn] || !ta->syn_to[ta->n_syn] || !joined[0]) {
			free(ta->syn_from[ta->n_syn]);
			free(ta->syn_to[ta->n_syn]);
			if (!joined[0])
				continue;
			return -1;
		}
		ta->n_syn++;
	}
	return 0;
}

/* Decodes one UTF-8 sequence at s[*i]; returns the code point, or 0xFFFD for
 * an invalid byte (consuming one byte). */
static uint32_t next_cp(const unsigned char *s, size_t len, size_t *i)
{
	unsigned c = s[*i];
	size_t n;
	uint32_t cp;
	if (c < 0x80) {
		(*i)++;
		return c;
	}
	if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
	else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
	else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
	else { (*i)++; return 0xFFFD; }
	if (len - *i <= n) {
		*i = len;
		return 0xFFFD;
	}
	for (size_t k = 1; k <= n; k++) {
		if ((s[*i + k] & 0xC0) != 0x80) {
			(*i)++;
			return 0xFFFD;
		}
		cp = (cp << 6) | (s[*i + k] & 0x3F);
	}
	*i += n + 1;
	return cp;
}

/* Folds a code point to lowercase ASCII letters/digits. Returns the folded
 * string ("" for a separator, "'" for an apostrophe that joins a word). */
static const char *fold_cp(uint32_t cp, char tmp[2])
{
	/* Latin-1 Supplement letters, U+00C0..U+00FF, folded to their base. */
	static const char *const latin1[64] = {
		"a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
		"d", "n", "o", "o", "o", "o", "o", "",  "o", "u", "u", "u", "u", "y", "th", "ss",
		"a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
		"d", "n", "o", "o", "o", "o", "o", "",  "o", "u", "u", "u", "u", "y", "th", "y",
	};
	if (cp < 0x80) {
		if (cp >= 'A' && cp <= 'Z')
			cp += 'a' - 'A';
		if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')) {
			tmp[0] = (char)cp;
			tmp[1] = '\0';
			return tmp;
		}
		return cp == '\'' ? "'" : "";
	}
	if (cp == 0x2019 || cp == 0x2018)
		return "'";
	if (cp >= 0xC0 && cp <= 0xFF)
		return latin1[cp - 0xC0];
	if (cp >= 0x100 && cp <= 0x17F) {
		/* Latin Extended-A: pairs of upper/lower case of one base letter. */
		static const char base[] =
			"aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiiiiijjkkklllll"
			"lllllnnnnnnnnnoooooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs";
		size_t k = cp - 0x100;
		if (k < sizeof base - 1) {
			tmp[0] = base[k];
			tmp[1] = '\0';
			return tmp;
		}
	}
	return "";
}

size_t text_words(const char *str, size_t len, char *buf, size_t bufsize,
		  const char **words, size_t max)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, n = 0, used = 0, wlen = 0;
	char *cur = NULL;
	char tmp[2];

	if (bufsize == 0)
		return 0;
	while (i <= len && n < max) {
		const char *f = i < len ? fold_cp(next_cp(s, len, &i), tmp) : "";
		if (i >= len && f[0] == '\0')
			i = len + 1; /* the final flush below runs once */
		if (f[0] == '\'')
			continue; /* "can't" -> "cant", "o'clock" -> "oclock" */
		if (f[0] == '\0') {
			if (cur && wlen > 0) {
				cur[wlen] = '\0';
				words[n++] = cur;
				used += wlen + 1;
			}
			cur = NULL;
			wlen = 0;
			continue;
		}
		if (!cur) {
			if (used + TEXT_MAX_WORD + 1 > bufsize)
				break;
			cur = buf + used;
		}
		for (const char *p = f; *p; p++)
			if (wlen < TEXT_MAX_WORD)
				cur[wlen++] = *p;
	}
	if (cur && wlen > 0 && n < max) {
		cur[wlen] = '\0';
		words[n++] = cur;
	}
	return n;
}


/* Interrogatives (what, when, where, how, much...) are kept on purpose:
 * "how much" means price, "where" means location. */
static const char *const stop_en[] = {
	"a", "an", "the", "is", "are", "am", "was", "were", "be", "been", "to", "of",
	"in", "on", "at", "by", "for", "with", "from", "and", "or", "i", "im", "ive",
	"me", "my", "mine", "we", "us", "our", "you", "your", "yours", "it", "its",
	"this", "that", "these", "those", "there", "here", "do", "does", "did",
	"can", "could", "would", "should", "will", "shall", "may", "might", "must",
	"please", "pls", "plz", "hi", "hello", "hey", "thanks", "thank", "ok", "okay",
	"so", "just", "also", "about", "some", "any", "have", "has", "had", "get",
	"got", "be", "if", "as", "into", "up", "out", "then", "than", "too", "very",
	"really", "like", "want", "need", "know", "tell", "let", "id", "ill",
	"he", "she", "they", "them", "his", "her", "their", "yall", "u", "ur", NULL,
};

static const char *const stop_es[] = {
	"el", "la", "los", "las", "un", "una", "unos", "unas", "de", "del", "al",
	"a", "en", "y", "o", "que", "es", "son", "por", "para", "con", "mi", "mis",
	"me", "se", "lo", "le", "les", "su", "sus", "tu", "tus", "yo", "usted",
	"ustedes", "nos", "este", "esta", "estos", "estas", "ese", "esa", "hay",
	"hola", "gracias", "favor", "quiero", "necesito", "puedo", "pueden",
	"puede", "tengo", "tienen", "tiene", "saber", "si", "muy", "ya", "pero",
	NULL,
};

/* Words that tell the languages apart (text_detect_lang). */
static const char *const es_words[] = {
	"que", "de", "la", "el", "los", "las", "es", "por", "para", "cuanto",
	"cuanta", "cuando", "donde", "como", "puedo", "tienen", "mi", "una",
	"cita", "citas", "hola", "gracias", "necesito", "horario", "con",
	"del", "esta", "estan", "abren", "cierran", "quiero", "aceptan",
	"seguro", "receta", "resultados", "hay", "hoy", "manana", "sabado",
	"domingo", "cuesta", "cuestan", "precio", "medico", "doctor", "usted",
	"ustedes", "ayuda", "hablar", "persona", "tengo", "duele", "dolor",
	"pecho", "respirar", "consulta", "pago", "clinica", "abierto",
	"abiertos", "cancelar", "cambiar", "vacuna", "llamar", "telefono",
	"direccion", "estacionamiento", "nuevo", "nueva", "pacientes",
	"y", "o", "en", "un", "se", "me", "lo", "le", "su", "no", NULL,
};
static const char *const en_words[] = {
	"the", "is", "are", "what", "when", "where", "how", "do", "does", "you",
	"can", "i", "my", "a", "to", "of", "for", "and", "your", "have", "need",
	"open", "appointment", "much", "cost", "get", "with", "it", "on", "in",
	"an", "me", "will", "at", "be", "this", "that", "want", "help", NULL,
};


/* Patient shorthand that a clinic sees every day, expanded before stemming,
 * and plain synonyms folded onto one word.
 * Misspellings are not listed here: the engine corrects them against the
 * knowledge base's own vocabulary. */
static const char *const shorthand[][2] = {
	{"appt", "appointment"}, {"appts", "appointments"}, {"apt", "appointment"},
	{"rx", "prescription"}, {"rxs", "prescriptions"}, {"script", "prescription"},
	{"dr", "doctor"}, {"drs", "doctors"}, {"doc", "doctor"}, {"docs", "doctors"},
	{"meds", "medication"}, {"med", "medication"}, {"hrs", "hours"},
	{"hr", "hour"}, {"ins", "insurance"}, {"insur", "insurance"},
	{"info", "information"}, {"tmrw", "tomorrow"}, {"tmr", "tomorrow"},
	{"tomm", "tomorrow"}, {"2day", "today"}, {"tonite", "tonight"},
	{"sat", "saturday"}, {"sun", "sunday"}, {"mon", "monday"},
	{"tues", "tuesday"}, {"wed", "wednesday"}, {"thurs", "thursday"},
	{"fri", "friday"}, {"wkend", "weekend"}, {"wknd", "weekend"},
	{"addr", "address"}, {"ph", "phone"}, {"tel", "phone"}, {"num", "number"},
	{"xray", "x-ray"}, {"ekg", "ecg"}, {"bp", "blood pressure"},
	{"ppl", "people"}, {"msg", "message"}, {"pt", "patient"}, {"pts", "patients"},
	{"vax", "vaccine"}, {"vaxx", "vaccine"}, {"covid19", "covid"},
	{"telemed", "telehealth"}, {"pcp", "doctor"}, {"er", "emergency"},
	{"hsa", "hsa"}, {"ssn", "ssn"}, {"b4", "before"}, {"cuz", "because"},
	{"bc", "because"}, {"w", "with"}, {"yr", "year"}, {"yrs", "years"},
	{"mins", "minutes"}, {"min", "minute"}, {"thx", "thanks"},
	/* words patients use for the same thing: one term for the engine */
	{"cost", "price"}, {"costs", "price"}, {"prices", "price"}, {"pricing", "price"},
	{"charge", "price"}, {"charges", "price"}, {"fee", "price"}, {"fees", "price"},
	{"physician", "doctor"}, {"physicians", "doctors"}, {"provider", "doctor"},
	{"providers", "doctors"},
};

static const size_t n_shorthand = sizeof shorthand / sizeof shorthand[0];

/* Every listed word -> its classes (the bits below) and, in bits 8 and up,
 * 1 + its index in shorthand[]: one hash lookup per word instead of a scan
 * of each list (they were a tenth of the engine's time). Built once. */
enum { IS_STOP_EN = 1, IS_STOP_ES = 2, IS_EN = 4, IS_ES = 8 };
static strmap *word_class;
static pthread_once_t word_class_once = PTHREAD_ONCE_INIT;

static void add_class(const char *const *list, int bit)
{
	for (; *list; list++)
		strmap_put(word_class, *list, strmap_get(word_class, *list, 0) | bit);
}

static void build_word_class(void)
{
	/* out of memory here leaves the map partial or NULL: words then count
	 * as in no list, which only makes matching less precise */
	if (!(word_class = strmap_new()))
		return;
	add_class(stop_en, IS_STOP_EN);
	add_class(stop_es, IS_STOP_ES);
	add_class(en_words, IS_EN);
	add_class(es_words, IS_ES);
	for (size_t i = 0; i < n_shorthand; i++)
		strmap_put(word_class, shorthand[i][0],
			   strmap_get(word_class, shorthand[i][0], 0) | (int)((i + 1) << 8));
}

static int classes(const char *w)
{
	pthread_once(&word_class_once, build_word_class);
	return word_class ? strmap_get(word_class, w, 0) : 0;
}

int text_is_stopword(const char *word, text_lang lang)
{
	return (classes(word) & (lang == TEXT_LANG_ES ? IS_STOP_ES : IS_STOP_EN)) != 0;
}


static const char *expand_shorthand(const char *w)
{
	int i = classes(w) >> 8;
	return i > 0 ? shorthand[i - 1][1] : w;
}

text_lang text_detect_lang(const char *raw, size_t rawlen,
			   const char *const *words, size_t n)
{
	const unsigned char *s = (const unsigned char *)raw;
	int es = 0, en = 0;
	/* ñ, á é í ó ú, ¿ ¡ in UTF-8 are strong hints. */
	for (size_t i = 0; i + 1 < rawlen; i++) {
		if (s[i] == 0xC3 && (s[i + 1] == 0xB1 || s[i + 1] == 0xA1 ||
		    s[i + 1] == 0xA9 || s[i + 1] == 0xAD || s[i + 1] == 0xB3 ||
		    s[i + 1] == 0xBA || s[i + 1] == 0x91))
			es += 2;
		if (s[i] == 0xC2 && (s[i + 1] == 0xBF || s[i + 1] == 0xA1))
			es += 2;
	}
	for (size_t i = 0; i < n; i++) {
		int c = classes(words[i]);
		es += (c & IS_ES) != 0;
		en += (c & IS_EN) != 0;
	}
	return es > en ? TEXT_LANG_ES : TEXT_LANG_EN;
}

static void analyze(text_analyzer *ta, const char *s, size_t len, int lang, int all,
		    text_terms *out)
{
	char wordbuf[TEXT_MAX_WORDS * (TEXT_MAX_WORD + 1)];
	const char *words[TEXT_MAX_WORDS];
	const char *expanded[TEXT_MAX_WORDS * 2];
	size_t nw = text_words(s, len, wordbuf, sizeof wordbuf, words, TEXT_MAX_WORDS);
	size_t ne = 0, used = 0;
	int keep_stop;

	out->n = 0;
	out->lang = lang < 0 ? text_detect_lang(s, len, words, nw) : (text_lang)lang;

	/* Expand shorthand; a multi-word expansion ("bp") becomes several words.
	 * The clinic's own synonyms first, in either language. */
	char expbuf[TEXT_MAX_WORDS * (TEXT_MAX_WORD + 1)];
	size_t expused = 0;
	for (size_t i = 0; i < nw && ne < TEXT_MAX_WORDS; i++) {
		const char *x = out->lang == TEXT_LANG_EN ? expand_shorthand(words[i]) : words[i];
		for (size_t k = 0; k < ta->n_syn; k++)
			if (strcmp(words[i], ta->syn_from[k]) == 0) {
				x = ta->syn_to[k];
				break;
			}
		size_t xl = strlen(x);
		if (x == words[i] || expused + xl + 1 > sizeof expbuf) {
			expanded[ne++] = words[i];
			continue;
		}
		char *dst = expbuf + expused;
		memcpy(dst, x, xl + 1);
		expused += xl + 1;
		for (char *tok = dst, *sp; tok && ne < TEXT_MAX_WORDS; tok = sp ? sp + 1 : NULL) {
			sp = strpbrk(tok, " -");
			if (sp)
				*sp = '\0';
			if (*tok)
				expanded[ne++] = tok;
		}
	}

	/* Keep stop words only when nothing else is left. */
	keep_stop = 1;
	for (size_t i = 0; i < ne && !all; i++)
		if (!text_is_stopword(expanded[i], out->lang))
			keep_stop = 0;

	for (size_t i = 0; i < ne && out->n < TEXT_MAX_WORDS; i++) {
		const char *w = expanded[i];
		size_t wl = strlen(w);
		const sb_symbol *st;
		int sl;
		if (!keep_stop && text_is_stopword(w, out->lang))
			continue;
		if (used + 2 * (TEXT_MAX_WORD + 1) > sizeof out->store)
			break;
		char *wcopy = out->store + used;
		memcpy(wcopy, w, wl + 1);
		used += wl + 1;
		st = sb_stemmer_stem(ta->stem[out->lang], (const sb_symbol *)w, (int)wl);
		sl = st ? sb_stemmer_length(ta->stem[out->lang]) : 0;
		if (!st || sl <= 0) {
			st = (const sb_symbol *)w;
			sl = (int)wl;
		}
		if (sl > TEXT_MAX_WORD)
			sl = TEXT_MAX_WORD;
		char *tcopy = out->store + used;
		memcpy(tcopy, st, (size_t)sl);
		tcopy[sl] = '\0';
		used += (size_t)sl + 1;
		out->word[out->n] = wcopy;
		out->term[out->n] = tcopy;
		out->n++;
	}
}

void text_analyze(text_analyzer *ta, const char *s, size_t len, int lang, text_terms *out)
{
	analyze(ta, s, len, lang, 0, out);
}

void text_analyze_all(text_analyzer *ta, const char *s, size_t len, int lang, text_terms *out)
{
	analyze(ta, s, len, lang, 1, out);
}

int text_edit1(const char *a, size_t la, const char *b, size_t lb)
{
	size_t i = 0;
	if (la > lb + 1 || lb > la + 1)
		return 0;
	while (i < la && i < lb && a[i] == b[i])
		i++;
	if (la == lb) {
		if (i == la)
			return 1;
		if (memcmp(a + i + 1, b + i + 1, la - i - 1) == 0)
			return 1; /* substitution */
		return i + 1 < la && a[i] == b[i + 1] && a[i + 1] == b[i] &&
		       memcmp(a + i + 2, b + i + 2, la - i - 2) == 0; /* swap */
	}
	if (la > lb) /* deletion from a */
		return memcmp(a + i + 1, b + i, la - i - 1) == 0;
	return memcmp(a + i, b + i + 1, lb - i - 1) == 0;
}
