/* triage: see triage.h. Hand-written patterns rather than a model: an
 * emergency list must be auditable line by line by a clinician, and every
 * pattern is covered by tests/data/emergencies.txt. */
#include "triage.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "strmap.h"
#include "text.h"

/* Each pattern: words in order; "x*" matches any word starting with x. */
static const char *const emergency[] = {
	/* heart */
	"chest pain*", "chest hurt*", "chest tight*", "chest pressure", "chest crush*",
	"pain* chest", "pressure chest", "crushing chest", "heart attack", "cardiac arrest",
	"heart stopped", "no pulse",
	/* breathing */
	"cant breath*", "cannot breath*", "can not breath*", "couldnt breath*", "not breathing",
	"stopped breathing", "isnt breathing", "hard to breath*", "trouble breath*",
	"difficulty breath*", "struggling breath*", "short of breath", "shortness breath",
	"gasping", "choking", "turning blue", "lips blue*", "blue lips",
	/* stroke */
	"stroke", "face droop*", "drooping face", "slurred speech", "slurring", "speech slurred",
	"arm numb*", "one side numb*", "numb one side", "cant move arm*", "cant move side",
	"sudden numb*", "sudden weak*",
	/* bleeding, injury */
	"bleeding heavily", "heavy bleeding", "severe bleeding", "bleeding badly",
	"wont stop bleeding", "bleeding wont stop", "bleeding not stop*", "lots blood",
	"blood everywhere", "losing blood", "bleeding out", "gunshot", "gun shot", "shot wound",
	"shot by", "been shot", "someone shot", "stabbed",
	"severe burn*", "badly burn*", "head injury", "hit head",
	/* poisoning, overdose */
	"overdos*", "over dose*", "too many pills", "too much pills", "took whole bottle",
	"swallowed pills", "poisoned", "poisoning", "swallowed poison", "drank bleach",
	"took too much",
	/* self-harm */
	"suicid*", "kill myself", "kill my self", "killing myself", "end my life",
	"end it all", "take my life", "want to die", "wanna die", "want die",
	"better off dead", "hurt myself", "hurting myself", "harm myself", "self harm",
	"cut myself", "cutting myself", "no reason to live",
	/* allergy */
	"anaphyla*", "throat closing", "throat swell*", "throat swollen", "swollen throat",
	"tongue swell*", "allergic reaction", "used epipen", "gave epipen", "needed epipen",
	"used epi pen",
	/* consciousness, seizure */
	"unconscious", "unresponsive", "wont wake", "not waking", "cant wake", "passed out",
	"fainted", "collapsed", "seizure", "convulsing", "convulsion*",
	/* babies, pregnancy */
	"baby not breathing", "baby blue", "water broke", "heavy bleeding pregnant",
	/* explicit */
	"this is emergency", "its emergency", "having emergency", "have emergency",
	"call 911", "ambulance", "im dying", "am dying", "is dying",
	/* Spanish */
	"dolor pecho", "duele pecho", "presion pecho", "ataque corazon", "infarto",
	"no puedo respirar", "no puede respirar", "no respira", "falta aire", "me ahogo",
	"ahogando", "asfixi*", "derrame cerebral", "cara caida", "no puede hablar",
	"sangrado fuerte", "sangra mucho", "mucha sangre", "sangrando mucho", "hemorragia",
	"sobredosis", "muchas pastillas", "demasiadas pastillas", "envenen*",
	"suicid*", "matarme", "quitarme vida", "quiero morir", "quiero morirme",
	"hacerme dano", "lastimarme", "cortarme", "desmay*", "inconsciente", "no despierta",
	"convulsion*", "garganta cerr*", "garganta hinch*", "reaccion alergica",
	"es emergencia", "tengo emergencia", "ambulancia", "me estoy muriendo",
	/* more signs, caught by the test lists */
	"pain* left arm", "pain* jaw", "arm jaw", "heart racing", "racing heart", "pass out",
	"passing out", "gibberish", "face weird", "worst headache", "thunderclap",
	"hard time breath*", "barely breath*", "catch my breath", "not responding",
	"isnt responding", "seizing", "seizure*", "spurting", "bleeding lot", "lot blood",
	"odd feel*", "swallowed&pill*", "ate&pills", "took&pills", "swallowed&battery",
	"ate&poison", "drank&poison", "swallowed&poison", "drank&cleaning", "drank&bleach",
	"swallowed&bleach", "drank&antifreeze", "swallowed&antifreeze", "ate&detergent",
	"swallowed&detergent",
	"dont want alive", "dont want live", "not want live", "end* it all", "jump* bridge",
	"jump* building", "kill* himself", "kill* herself", "kill* themsel*", "goodbye note",
	"suicide note", "lips swell*", "face swell*", "swelling lips", "boiling water",
	"skin peeling", "burn* bad*", "on fire", "fire&burn*", "car accident", "hurt badly",
	"badly hurt", "fell&cant move", "fell off roof", "newborn&fever", "newborn&limp",
	"baby&limp", "snake bit*", "bitten snake", "bitten by snake",
	"no esta respirando", "atragant*", "derrame", "no quiero vivir", "cloro", "lejia",
	"para de sangrar", "cerr* garganta", "quem* grave*", "aceite hirviendo",
	NULL,
};

static const char *const person[] = {
	"talk person", "talk someone", "talk somebody", "talk human", "talk real",
	"talk agent", "talk staff", "talk receptionist", "talk representative",
	"talk live", "talk front desk", "speak person", "speak someone", "speak somebody",
	"speak human", "speak real", "speak agent", "speak staff", "speak receptionist",
	"speak representative", "speak live", "speak front desk", "chat person",
	"chat human", "chat someone", "chat real", "real person", "live person",
	"live agent", "actual person", "human being", "human", "representative",
	"operator", "receptionist", "not bot", "not robot", "no bot", "stop bot",
	"someone call me", "call me back", "have someone call",
	/* Spanish */
	"hablar persona", "hablar alguien", "hablar humano", "hablar agente",
	"hablar recepcion*", "hablar representante", "persona real", "operador*",
	"representante", "recepcionista", "un humano", "alguien me llame",
	"agent", "agente", "want person", "want human", "need person", "need human",
	"want real", "have person", "pass person", "person help", "someone help",
	"somebody help", "team help", "office manager", "talk manager", "speak manager", "manager please",
	"customer service",
	"live chat", "message me back", "quiero persona", "no quiero robot",
	"comuniq* recepcion", "alguien atender", "pasame con",
	NULL,
};

#define MAX_TOKENS 1024           /* distinct pattern words */
#define TOKEN_WORDS (MAX_TOKENS / 64)

/* Patterns are compiled once, on first use, into token arrays that point
 * into the string literals above: the hot path then does no parsing. */
typedef struct ptok {
	const char *s;
	unsigned char len, star;
	unsigned short id;        /* the same word (and star) has the same id */
} ptok;

typedef struct pseq {
	ptok tok[8];
	unsigned char n;
} pseq;

typedef struct pattern {
	const char *text;
	pseq part[3];             /* "a b&c": every part must match somewhere */
	unsigned char nparts;
} pattern;

typedef struct word {
	const char *s;
	size_t len;
	int exact;                /* spelled right: matched exactly, never forgiven */
	uint64_t tok[TOKEN_WORDS];  /* the pattern words it matches, a bit per id */
} word;

#define MAX_PATTERNS 512
static pattern compiled[2][MAX_PATTERNS];
static size_t n_compiled[2];
static pthread_once_t compiled_once = PTHREAD_ONCE_INIT;

/* The distinct pattern words, so that a question's words are matched
 * against each once (not once per pattern that uses it): exact words and
 * starred prefixes by hash, and only the words typos are forgiven in (5
 * letters or more) one by one. */
static ptok tokens[MAX_TOKENS];
static size_t n_tokens;
static strmap *token_exact, *token_prefix;  /* word -> id; NULL: out of memory */
static unsigned short fuzzy[MAX_TOKENS];    /* ids of words of 5 letters or more */
static size_t n_fuzzy;
static size_t prefix_min = TEXT_MAX_WORD, prefix_max;

static unsigned short token_id(const ptok *t)
{
	char key[TEXT_MAX_WORD + 1];
	strmap *m = t->star ? token_prefix : token_exact;
	int id = -1;
	if (!m)
		return 0;
	snprintf(key, sizeof key, "%.*s", (int)t->len, t->s);
	if ((id = strmap_get(m, key, -1)) >= 0)
		return (unsigned short)id;
	if (n_tokens == MAX_TOKENS || strmap_put(m, key, (int)n_tokens) < 0) {
		/* out of memory (or too many words): matches() goes the slow way */
		strmap_free(token_exact);
		strmap_free(token_prefix);
		token_exact = token_prefix = NULL;
		return 0;
	}
	tokens[n_tokens] = *t;
	tokens[n_tokens].id = (unsigned short)n_tokens;
	if (t->len >= 5)
		fuzzy[n_fuzzy++] = (unsigned short)n_tokens;
	if (t->star && t->len < prefix_min)
		prefix_min = t->len;
	if (t->star && t->len > prefix_max)
		prefix_max = t->len;
	return (unsigned short)n_tokens++;
}

static void compile(const char *const *src, pattern *out, size_t *n)
{
	for (*n = 0; src[*n] && *n < MAX_PATTERNS; (*n)++) {
		pattern *pt = &out[*n];
		const char *p = src[*n];
		pt->text = p;
		pt->nparts = 1;
		memset(pt->part, 0, sizeof pt->part);
		while (*p) {
			pseq *q = &pt->part[pt->nparts - 1];
			size_t l = strcspn(p, " &");
			if (l > 0 && q->n < 8) {
				ptok *t = &q->tok[q->n++];
				t->star = p[l - 1] == '*';
				t->s = p;
				t->len = (unsigned char)(l - t->star);
				t->id = token_id(t);
			}
			p += l;
			if (*p == '&' && pt->nparts < 3)
				pt->nparts++;
			while (*p == ' ' || *p == '&')
				p++;
		}
	}
}

/* Does word w match pattern token t (a prefix when starred)? One typo is
 * forgiven in tokens of 5 letters or more. */
static int token_match(const word *w, const ptok *t)
{
	size_t pl = t->len;
	if (t->star) {
		if (w->len >= pl && memcmp(w->s, t->s, pl) == 0)
			return 1;
		if (pl < 5 || w->exact)
			return 0;
		for (size_t k = pl - 1; k <= pl + 1 && k <= w->len; k++)
			if (text_edit1(w->s, k, t->s, pl))
				return 1;
		return 0;
	}
	if (w->len == pl && memcmp(w->s, t->s, pl) == 0)
		return 1;
	return pl >= 5 && !w->exact && text_edit1(w->s, w->len, t->s, pl);
}

/* Which pattern words w matches: the same as token_match against each, but
 * by hash for exact words and starred prefixes. */
static void word_tokens(word *w)
{
	char key[TEXT_MAX_WORD + 1];
	size_t len = w->len < TEXT_MAX_WORD ? w->len : TEXT_MAX_WORD;
	int id;

	memset(w->tok, 0, sizeof w->tok);
	memcpy(key, w->s, len);
	key[len] = '\0';
	if ((id = strmap_get(token_exact, key, -1)) >= 0)
		w->tok[id >> 6] |= 1ull << (id & 63);
	for (size_t l = prefix_min; l <= prefix_max && l <= len; l++) {
		char c = key[l];
		key[l] = '\0';
		if ((id = strmap_get(token_prefix, key, -1)) >= 0)
			w->tok[id >> 6] |= 1ull << (id & 63);
		key[l] = c;
	}
	if (!w->exact)
		for (size_t f = 0; f < n_fuzzy; f++)
			if (token_match(w, &tokens[fuzzy[f]]))
				w->tok[fuzzy[f] >> 6] |= 1ull << (fuzzy[f] & 63);
}

static int matches(const word *w, const ptok *t)
{
	if (!token_exact) /* out of memory at start: the slow way */
		return token_match(w, t);
	return (int)(w->tok[t->id >> 6] >> (t->id & 63)) & 1;
}

/* The sequence's tokens in order in words[], with at most 3 other words
 * between consecutive tokens. */
static int sequence_match(const pseq *q, const word *words, size_t n)
{
	for (size_t start = 0; start < n; start++) {
		size_t pos, t;
		if (!matches(&words[start], &q->tok[0]))
			continue;
		pos = start;
		for (t = 1; t < q->n; t++) {
			size_t k, found = 0;
			for (k = pos + 1; k < n && k <= pos + 4; k++) {
				if (matches(&words[k], &q->tok[t])) {
					found = 1;
					break;
				}
			}
			if (!found)
				break;
			pos = k;
		}
		if (t == q->n)
			return 1;
	}
	return 0;
}

static int pattern_match(const pattern *pt, const word *words, size_t n, const uint64_t *any)
{
	/* most patterns have a word no word of the question matches */
	for (unsigned i = 0; any && i < pt->nparts; i++)
		for (unsigned t = 0; t < pt->part[i].n; t++) {
			unsigned id = pt->part[i].tok[t].id;
			if (!((any[id >> 6] >> (id & 63)) & 1))
				return 0;
		}
	for (unsigned i = 0; i < pt->nparts; i++)
		if (pt->part[i].n == 0 || !sequence_match(&pt->part[i], words, n))
			return 0;
	return 1;
}

/* Words that begin like a starred pattern word but are another word. A word
 * one typo from a pattern word belongs in common[] below instead: it is then
 * still matched exactly ("short" in "short of breath"). */
static int is_false_friend(const char *w)
{
	return strcmp(w, "breathalyzer") == 0;
}

/* Common words one typo away from a pattern word ("would" from "wound",
 * "doing" from "dying"), taken from running the patterns over the 30,000
 * questions of ../shared/bench and the default knowledge base, leaving out
 * any a patient might write in an emergency ("drink", "difficult",
 * "swollen", "stoke"), and three that were once dropped from matching
 * altogether ("shots", "strokes", "emergencies"). Never forgiven into the
 * pattern word. */
static const char *const common[] = {
	"would", "much", "services", "right", "travel", "while", "hear", "taking",
	"light", "well", "doing", "spell", "later", "traveling", "bills", "live",
	"night", "bring", "fridge", "making", "officer", "might", "feeling", "wells",
	"personal", "found", "heard", "inches", "never", "olive", "travelling", "sort",
	"sell", "tender", "customers", "rating", "grade", "persons", "worse", "reasons",
	"root", "lights", "rights", "steak", "cooking", "smell", "burning", "door",
	"gave", "sound", "ever", "arent", "butter", "stuff", "manage", "closing",
	"sporting", "fight", "watch", "peak", "baking", "walking", "lease", "polls",
	"eight", "billing", "grapes", "shots", "strokes", "emergencies",
	NULL,
};
static strmap *common_words;   /* common[] as a hash set; NULL: out of memory */

static void compile_all(void)
{
	token_exact = strmap_new();
	token_prefix = strmap_new();
	if (!token_exact || !token_prefix) {
		strmap_free(token_exact);
		strmap_free(token_prefix);
		token_exact = token_prefix = NULL;
	}
	compile(emergency, compiled[0], &n_compiled[0]);
	compile(person, compiled[1], &n_compiled[1]);
	if ((common_words = strmap_new()))
		for (size_t i = 0; common[i]; i++)
			strmap_put(common_words, common[i], 1);
}

/* Is w spelled right: never forgiven into a pattern word? */
static int spelled_right(const char *w, triage_known_fn known, void *ctx)
{
	if (common_words && strmap_get(common_words, w, -1) >= 0)
		return 1;
	return text_is_stopword(w, TEXT_LANG_EN) || text_is_stopword(w, TEXT_LANG_ES) ||
	       (known && known(w, ctx));
}

triage_kind triage_check(const char *text, size_t len, triage_known_fn known, void *ctx,
			 const char **matched)
{
	static const triage_kind kinds[2] = { TRIAGE_EMERGENCY, TRIAGE_PERSON };
	char buf[TEXT_MAX_WORDS * (TEXT_MAX_WORD + 1)];
	const char *raw[TEXT_MAX_WORDS];
	word words[TEXT_MAX_WORDS];
	uint64_t any[TOKEN_WORDS] = { 0 };  /* the pattern words some word matches */
	size_t n = text_words(text, len, buf, sizeof buf, raw, TEXT_MAX_WORDS), m = 0;

	pthread_once(&compiled_once, compile_all);
	for (size_t i = 0; i < n; i++) {
		word *w = &words[m];
		if (is_false_friend(raw[i]))
			continue;
		w->s = raw[i];
		w->len = strlen(raw[i]);
		w->exact = spelled_right(raw[i], known, ctx);
		if (token_exact) {
			word_tokens(w);
			for (size_t b = 0; b < TOKEN_WORDS; b++)
				any[b] |= w->tok[b];
		}
		m++;
	}
	/* emergencies first: "someone help, he's choking" is an emergency */
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < n_compiled[k]; i++) {
			if (pattern_match(&compiled[k][i], words, m, token_exact ? any : NULL)) {
				if (matched)
					*matched = compiled[k][i].text;
				return kinds[k];
			}
		}
	}
	if (matched)
		*matched = NULL;
	return TRIAGE_NONE;
}
