/* triage: see triage.h. Hand-written patterns rather than a model: an
 * emergency list must be auditable line by line by a clinician, and every
 * pattern is covered by tests/data/emergencies.txt. */
#include "triage.h"

#include <string.h>

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

/* Optimal-string-alignment distance between a and b, capped: returns up to 2. */
static int osa_distance(const char *a, size_t la, const char *b, size_t lb)
{
	int d[TEXT_MAX_WORD + 2][TEXT_MAX_WORD + 2];
	if (la > TEXT_MAX_WORD || lb > TEXT_MAX_WORD)
		return 2;
	if ((la > lb ? la - lb : lb - la) > 1)
		return 2;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			int cost = a[i - 1] != b[j - 1];
			int v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb] > 2 ? 2 : d[la][lb];
}

/* Does word w match pattern token p (len pl, prefix when star)? One typo is
 * forgiven in tokens of 5 letters or more. */
static int token_match(const char *w, const char *p, size_t pl, int star)
{
	size_t wl = strlen(w);
	if (star) {
		if (wl >= pl && strncmp(w, p, pl) == 0)
			return 1;
		if (pl < 5)
			return 0;
		for (size_t k = pl - 1; k <= pl + 1 && k <= wl; k++)
			if (osa_distance(w, k, p, pl) <= 1)
				return 1;
		return 0;
	}
	if (wl == pl && memcmp(w, p, pl) == 0)
		return 1;
	return pl >= 5 && osa_distance(w, wl, p, pl) <= 1;
}

/* Matches pattern words in order in words[], with at most 3 words between
 * consecutive pattern words. */
static int sequence_match(const char *pattern, const char *const *words, size_t n)
{
	const char *toks[8];
	size_t lens[8];
	int stars[8];
	size_t nt = 0;
	const char *p = pattern;

	while (*p && nt < 8) {
		const char *sp = strchr(p, ' ');
		size_t l = sp ? (size_t)(sp - p) : strlen(p);
		stars[nt] = l > 0 && p[l - 1] == '*';
		toks[nt] = p;
		lens[nt] = l - (size_t)stars[nt];
		nt++;
		p += l;
		while (*p == ' ')
			p++;
	}
	for (size_t start = 0; start < n; start++) {
		size_t pos, t;
		if (!token_match(words[start], toks[0], lens[0], stars[0]))
			continue;
		pos = start;
		for (t = 1; t < nt; t++) {
			size_t k, found = 0;
			for (k = pos + 1; k < n && k <= pos + 4; k++) {
				if (token_match(words[k], toks[t], lens[t], stars[t])) {
					found = 1;
					break;
				}
			}
			if (!found)
				break;
			pos = k;
		}
		if (t == nt)
			return 1;
	}
	return 0;
}

/* "a b&c" matches when every &-separated part matches somewhere. */
static int pattern_match(const char *pattern, const char *const *words, size_t n)
{
	char part[64];
	const char *p = pattern;
	for (;;) {
		const char *amp = strchr(p, '&');
		size_t l = amp ? (size_t)(amp - p) : strlen(p);
		if (l >= sizeof part)
			return 0;
		memcpy(part, p, l);
		part[l] = '\0';
		if (!sequence_match(part, words, n))
			return 0;
		if (!amp)
			return 1;
		p = amp + 1;
	}
}

/* Words that look like an emergency word but are not one. */
static int is_false_friend(const char *w)
{
	static const char *const ok[] = {
		"shots", "shoot", "short", "shut", "strokes", "breathalyzer", "emergencies",
		NULL,
	};
	for (size_t i = 0; ok[i]; i++)
		if (strcmp(w, ok[i]) == 0)
			return 1;
	return 0;
}

triage_kind triage_check(const char *text, size_t len, const char **pattern)
{
	char buf[TEXT_MAX_WORDS * (TEXT_MAX_WORD + 1)];
	const char *raw[TEXT_MAX_WORDS], *words[TEXT_MAX_WORDS];
	size_t n = text_words(text, len, buf, sizeof buf, raw, TEXT_MAX_WORDS), m = 0;

	for (size_t i = 0; i < n; i++)
		if (!is_false_friend(raw[i]))
			words[m++] = raw[i];
	for (size_t i = 0; emergency[i]; i++) {
		if (pattern_match(emergency[i], words, m)) {
			if (pattern)
				*pattern = emergency[i];
			return TRIAGE_EMERGENCY;
		}
	}
	for (size_t i = 0; person[i]; i++) {
		if (pattern_match(person[i], words, m)) {
			if (pattern)
				*pattern = person[i];
			return TRIAGE_PERSON;
		}
	}
	if (pattern)
		*pattern = NULL;
	return TRIAGE_NONE;
}
