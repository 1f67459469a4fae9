/* genkb: generates a knowledge base of N entries in frontdesk's JSONL format
 * (README "The knowledge base format") and an eval queries file for it
 * ({"q": "...", "expect": "id" or null}), for the knowledge-base size
 * scenario of the benchmark (issue 6, scenario 4).
 *
 *   genkb --entries N --kb FILE --queries FILE [--nqueries M] [--seed S]
 *
 * Realistic-ish: ten clinic intents (prices, booking, preparation, refills,
 * side effects, doctors' hours, new patients, directions, location hours,
 * insurance plans), each with a question, 4 to 6 alternates drawn from 6-7
 * phrasings, and an answer. The things asked about are either combinations
 * of common words shared by many entries ("pediatric allergy screening") or
 * generated proper names (medications, doctors, locations, plans), so
 * retrieval has to use several terms, and the vocabulary grows with N the way
 * a real health system's does. Queries use a phrasing no entry has, 15% with
 * a one-letter typo in a name, 10% out of scope (expect null).
 * Deterministic for a given seed. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ENTRIES 1000000

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static unsigned pick(unsigned n)
{
	return (unsigned)(rng() % n);
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const specialties[] = {
	"allergy", "cardiology", "dermatology", "endocrinology", "gastroenterology",
	"hearing", "vision", "nutrition", "sleep", "asthma", "diabetes", "thyroid",
	"kidney", "liver", "lung", "heart rhythm", "blood pressure", "cholesterol",
	"bone density", "joint pain", "back pain", "migraine", "memory", "mood",
	"anxiety", "weight", "smoking cessation", "pregnancy", "fertility",
	"menopause", "prostate", "bladder", "skin cancer", "mole", "acne", "eczema",
	"psoriasis", "wound care", "foot care", "knee", "shoulder", "hip", "hand",
	"speech", "physical therapy", "occupational therapy", "vaccine", "travel health",
	"sports injury", "concussion", "arthritis", "osteoporosis", "anemia",
	"immunology", "infectious disease", "urgent care", "lactation", "genetic",
	"hormone", "vein",
};

static const char *const populations[] = {
	"pediatric", "adult", "senior", "prenatal", "adolescent", "family", "women's",
	"men's", "athlete", "newborn", "college student", "veteran",
};

static const char *const services[] = {
	"consult", "screening", "follow-up visit", "checkup", "evaluation",
	"therapy session", "telehealth visit", "second opinion", "group class",
	"lab panel", "imaging scan", "clinic visit", "procedure", "workshop",
	"support group", "home visit", "walk-in visit", "assessment", "education class",
	"monitoring program",
};

/* syllables for generated names; index -> name is a bijection, so unique */
static const char *const syl[] = {
	"ba", "ven", "lor", "mi", "zan", "to", "ri", "qua", "del", "no", "sar", "ki",
	"lum", "pe", "dra", "vo", "xi", "tel", "ma", "ron", "cas", "bri", "fen", "go",
	"hal", "jo", "kel", "nar", "os", "pli", "ser", "tam", "ul", "wes", "yor", "zed",
	"ar", "bel", "cor", "dun",
};
static const char *const med_suffix[] = { "xin", "pril", "statin", "mab", "olol", "azole", "vir", "dronate" };
static const char *const loc_suffix[] = { "Park", "Ridge", "Heights", "Crossing", "Valley", "Harbor", "Square", "Commons" };
static const char *const plan_tier[] = { "Silver", "Gold", "Bronze", "Platinum", "HMO", "PPO", "Advantage", "Essential" };
static const char *const doc_end[] = {
	"son", "ley", "ton", "berg", "ez", "ski", "ova", "wood", "field", "man", "er",
	"ridge", "well", "ford", "quist", "ani",
};
static const char *const place_end[] = {
	"ford", "wood", "dale", "ton", "brook", "field", "view", "more", "haven", "stead",
	"mont", "bury", "wick", "gate", "holm", "lake", "side", "crest",
};
static const char *const brand_end[] = {
	"care", "health", "shield", "well", "first", "path", "mark", "point", "star",
	"bridge", "life", "plus",
};
static const char *const weekdays[] = { "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday" };

enum obj { O_SERVICE, O_MED, O_DOCTOR, O_LOCATION, O_PLAN };

typedef struct intent {
	const char *prefix;     /* id prefix and category */
	const char *category;
	enum obj obj;
	const char *question;
	const char *alternates[8];   /* NULL-terminated; 5 of them are used */
	const char *heldout[4];      /* phrasings for queries, never in the KB */
} intent;

/* In the phrasings, %s is the thing asked about (once). */
static const intent intents[] = {
	{ "price", "prices", O_SERVICE, "How much does a %s cost?",
	  { "price of a %s", "%s fee", "what do you charge for a %s",
	    "cost of %s without insurance", "how expensive is the %s", "%s self pay rate",
	    "what will I pay for a %s", NULL },
	  { "how much would I be billed for a %s", "is the %s pricey", "%s out of pocket cost", NULL } },
	{ "book", "appointments", O_SERVICE, "How do I book a %s?",
	  { "schedule a %s", "make an appointment for a %s", "can I get a %s next week",
	    "%s availability", "sign up for a %s", "I need a %s soon", NULL },
	  { "when is the next opening for a %s", "set me up with a %s", "reserve a %s slot", NULL } },
	{ "prep", "preparation", O_SERVICE, "How should I prepare for a %s?",
	  { "do I need to fast before a %s", "what to bring to my %s", "%s instructions",
	    "before my %s what should I do", "getting ready for a %s", "%s preparation", NULL },
	  { "anything special to do ahead of the %s", "tips before the %s", "what should I know before the %s", NULL } },
	{ "refill", "prescriptions", O_MED, "How do I refill my %s?",
	  { "refill %s", "%s prescription renewal", "running out of %s", "renew my %s script",
	    "get more %s", "%s refill request", NULL },
	  { "I'm almost out of %s", "need a new supply of %s", "can you send more %s to my pharmacy", NULL } },
	{ "side", "medications", O_MED, "What are the side effects of %s?",
	  { "%s side effects", "is %s safe", "reactions to %s", "%s made me dizzy",
	    "problems with %s", "does %s cause nausea", NULL },
	  { "I feel strange since starting %s", "bad reaction after taking %s", "%s adverse effects", NULL } },
	{ "doc-hours", "providers", O_DOCTOR, "When does Dr. %s see patients?",
	  { "Dr. %s hours", "is Dr. %s in on Friday", "which days does Dr. %s work",
	    "Dr. %s availability", "when can I see doctor %s", "Dr. %s schedule", NULL },
	  { "what days is %s in clinic", "is doctor %s working this week", "%s clinic days", NULL } },
	{ "doc-new", "providers", O_DOCTOR, "Is Dr. %s accepting new patients?",
	  { "can I switch to Dr. %s", "new patient with Dr. %s", "is Dr. %s taking patients",
	    "join Dr. %s's panel", "is doctor %s open to new patients", "become a patient of Dr. %s", NULL },
	  { "could %s be my new doctor", "does %s take new people", "I want %s as my primary doctor", NULL } },
	{ "directions", "locations", O_LOCATION, "How do I get to the %s clinic?",
	  { "directions to %s", "where is the %s office", "%s clinic address", "parking at %s",
	    "bus to the %s clinic", "how far is %s", NULL },
	  { "what street is %s on", "route to %s", "find the %s location", NULL } },
	{ "loc-hours", "hours", O_LOCATION, "What are the hours at %s?",
	  { "when is %s open", "%s opening times", "is %s open on Saturday", "%s closing time",
	    "what time does %s open", "%s hours today", NULL },
	  { "until what time is %s open", "is %s open late", "%s open tomorrow morning", NULL } },
	{ "plan", "insurance", O_PLAN, "Do you accept %s?",
	  { "is %s in network", "do you take %s insurance", "%s coverage", "will %s pay for my visit",
	    "I have %s, am I covered", "is %s accepted here", NULL },
	  { "does my %s plan work here", "are you contracted with %s", "can I use %s at your clinic", NULL } },
};

static const char *const out_of_scope[] = {
	"what is the weather going to be like tomorrow", "recommend a good pizza place nearby",
	"who won the football game last night", "how do I reset my wifi router",
	"what's the capital of australia", "can you help me with my tax return",
	"tell me a joke about cats", "how many ounces are in a cup",
	"what movies are playing this weekend", "how do I change a flat tire",
	"translate good morning into italian", "is the stock market up today",
	"best way to learn the guitar", "how long do I boil an egg",
	"where can I buy cheap concert tickets", "what time is sunset today",
	"how do I unsubscribe from your newsletter about cars", "write me a poem about the ocean",
	"what is the speed of light", "how do I get a fishing license",
};

/* a + b + c with the first letter in upper case: a proper name */
static void cap(char *out, size_t outsz, const char *a, const char *b, const char *c)
{
	snprintf(out, outsz, "%s%s%s", a, b, c);
	if (out[0] >= 'a' && out[0] <= 'z')
		out[0] = (char)(out[0] - 'a' + 'A');
}

/* The thing asked about for object index i of a kind: unique per (kind, i). */
static void object_name(enum obj kind, unsigned i, char *out, size_t outsz)
{
	unsigned ns = COUNT(syl);
	switch (kind) {
	case O_SERVICE: {
		unsigned np = COUNT(populations), nsp = COUNT(specialties), nsv = COUNT(services);
		/* spread consecutive indexes over different words */
		unsigned k = (unsigned)(((uint64_t)i * 7919u) % (np * nsp * nsv));
		snprintf(out, outsz, "%s %s %s", populations[k % np], specialties[(k / np) % nsp],
			 services[(k / np / nsp) % nsv]);
		break;
	}
	case O_MED:
		snprintf(out, outsz, "%s%s%s", syl[i % ns], syl[(i / ns) % ns],
			 med_suffix[(i / ns / ns) % COUNT(med_suffix)]);
		if (i >= ns * ns * COUNT(med_suffix)) /* past 12,800: a third syllable */
			snprintf(out + strlen(out), outsz - strlen(out), "%s",
				 syl[(i / ns / ns / COUNT(med_suffix)) % ns]);
		break;
	case O_DOCTOR:
		cap(out, outsz, syl[i % ns], syl[(i / ns) % ns],
		    doc_end[(i / ns / ns) % COUNT(doc_end)]);
		if (i >= ns * ns * COUNT(doc_end)) /* past 25,600: a third syllable */
			snprintf(out + strlen(out), outsz - strlen(out), "%s",
				 syl[(i / ns / ns / COUNT(doc_end)) % ns]);
		break;
	case O_LOCATION:
		cap(out, outsz, syl[i % ns], syl[(i / ns) % ns], place_end[(i / ns / ns) % COUNT(place_end)]);
		snprintf(out + strlen(out), outsz - strlen(out), " %s",
			 loc_suffix[(i / ns / ns / COUNT(place_end)) % COUNT(loc_suffix)]);
		break;
	case O_PLAN:
		cap(out, outsz, syl[i % ns], syl[(i / ns) % ns], brand_end[(i / ns / ns) % COUNT(brand_end)]);
		snprintf(out + strlen(out), outsz - strlen(out), " %s",
			 plan_tier[(i / ns / ns / COUNT(brand_end)) % COUNT(plan_tier)]);
		break;
	}
}

/* Writes s with %s replaced by obj, as the inside of a JSON string. Our
 * texts have no quotes or backslashes; the apostrophes need no escaping. */
static void put_phrase(FILE *f, const char *tmpl, const char *obj)
{
	const char *p = strstr(tmpl, "%s");
	if (!p) {
		fputs(tmpl, f);
		return;
	}
	fwrite(tmpl, 1, (size_t)(p - tmpl), f);
	fputs(obj, f);
	fputs(p + 2, f);
}

/* One-letter typo in the first word of 5+ letters of s (in place). */
static void add_typo(char *s)
{
	char *w = s;
	while (*w) {
		size_t n = strcspn(w, " ");
		if (n >= 5) {
			size_t at = 1 + pick((unsigned)n - 2);
			switch (pick(3)) {
			case 0: /* swap two letters */
				{ char t = w[at]; w[at] = w[at + 1]; w[at + 1] = t; }
				break;
			case 1: /* drop one */
				memmove(w + at, w + at + 1, strlen(w + at + 1) + 1);
				break;
			default: /* double one */
				memmove(w + at + 1, w + at, strlen(w + at) + 1);
				break;
			}
			return;
		}
		w += n;
		while (*w == ' ')
			w++;
	}
}

static void entry_id(char *out, size_t outsz, unsigned kind, unsigned i)
{
	snprintf(out, outsz, "%s-%u", intents[kind].prefix, i);
}

/* The answer of intent `kind` about obj, inside a JSON string. The numbers
 * are drawn before the call: argument order is unspecified in C. */
static void write_answer(FILE *f, unsigned kind, const char *obj)
{
	unsigned a = pick(10000), b = pick(1000), c = pick(1000), d = pick(3);

	switch (kind) {
	case 0:
		fprintf(f, "A %s is $%u before insurance. With insurance you pay your plan's copay; "
			"ask billing for an estimate at (555) 010-%04u.", obj, 40 + b % 900, a);
		break;
	case 1:
		fprintf(f, "Book a %s in the patient portal or call (555) 010-%04u. "
			"The usual wait is %u days.", obj, a, 1 + b % 20);
		break;
	case 2:
		fprintf(f, "Before a %s, bring your insurance card and medication list and arrive "
			"%u minutes early. Questions: (555) 010-%04u.", obj, 10 + b % 20, a);
		break;
	case 3:
		fprintf(f, "Request a %s refill in the portal or ask your pharmacy to send us a "
			"request; allow %u business days. Pharmacy line: (555) 010-%04u.",
			obj, 1 + b % 3, a);
		break;
	case 4:
		fprintf(f, "Common side effects of %s are mild and pass within %u days. If they "
			"worry you, message your care team or call (555) 010-%04u.", obj, 3 + b % 10, a);
		break;
	case 5:
		fprintf(f, "Dr. %s sees patients %s to %s, %u:00 am to %u:00 pm. "
			"Book at (555) 010-%04u.", obj, weekdays[d], weekdays[d + 2 + c % 2],
			7 + b % 3, 3 + c % 4, a);
		break;
	case 6:
		fprintf(f, "Dr. %s is accepting new patients; the first visit is about %u minutes. "
			"Call (555) 010-%04u to register.", obj, 20 + 10 * (b % 4), a);
		break;
	case 7:
		fprintf(f, "The %s clinic is at %u Main Street, suite %u; free parking behind the "
			"building. Front desk: (555) 010-%04u.", obj, 100 + a % 9900, 100 + b % 400,
			c * 10 % 10000);
		break;
	case 8:
		fprintf(f, "%s is open Monday to Friday, %u:00 am to %u:00 pm. Call (555) 010-%04u.",
			obj, 7 + b % 3, 4 + c % 5, a);
		break;
	default:
		fprintf(f, "Yes, we are in network with %s. Your copay depends on your plan; billing "
			"can check it at (555) 010-%04u.", obj, a);
		break;
	}
}

static void write_entry(FILE *f, unsigned kind, unsigned i)
{
	const intent *it = &intents[kind];
	char obj[160], id[64];
	unsigned nalt = 0, chosen[8], n = 0;
	while (it->alternates[nalt])
		nalt++;
	object_name(it->obj, i, obj, sizeof obj);
	entry_id(id, sizeof id, kind, i);
	fprintf(f, "{\"id\":\"%s\",\"question\":\"", id);
	put_phrase(f, it->question, obj);
	fputs("\",\"alternates\":[", f);
	/* 4 to 6 of the phrasings, a different mix per entry */
	{
		unsigned want = 4 + pick(3);
		for (unsigned k = 0; k < nalt; k++)
			chosen[k] = k;
		for (unsigned k = nalt - 1; k > 0; k--) {
			unsigned j = pick(k + 1), t = chosen[k];
			chosen[k] = chosen[j];
			chosen[j] = t;
		}
		for (unsigned k = 0; k < want && k < nalt; k++) {
			fputs(n++ ? ",\"" : "\"", f);
			put_phrase(f, it->alternates[chosen[k]], obj);
			fputc('"', f);
		}
	}
	fputs("],\"answer\":\"", f);
	write_answer(f, kind, obj);
	fprintf(f, "\",\"category\":\"%s\",\"lang\":\"en\"}\n", it->category);
}

static void write_query(FILE *f, unsigned nkinds, unsigned per_kind_max, unsigned n_entries)
{
	if (pick(10) == 0) {
		fprintf(f, "{\"q\": \"%s\", \"expect\": null}\n", out_of_scope[pick(COUNT(out_of_scope))]);
		return;
	}
	for (;;) {
		unsigned kind = pick(nkinds), i = pick(per_kind_max), nh = 0;
		const intent *it = &intents[kind];
		char obj[160], id[64];
		/* entries are dealt round-robin: entry e is kind e % nkinds, index e / nkinds */
		if ((uint64_t)i * nkinds + kind >= n_entries)
			continue;
		while (it->heldout[nh])
			nh++;
		object_name(it->obj, i, obj, sizeof obj);
		if (it->obj != O_SERVICE && pick(100) < 15)
			add_typo(obj);
		entry_id(id, sizeof id, kind, i);
		fputs("{\"q\": \"", f);
		put_phrase(f, it->heldout[pick(nh)], obj);
		fprintf(f, "\", \"expect\": \"%s\"}\n", id);
		return;
	}
}

int main(int argc, char **argv)
{
	const char *kb_path = NULL, *q_path = NULL;
	unsigned long n = 0, nq = 1000, seed = 1;
	unsigned nkinds = COUNT(intents);
	FILE *kb = NULL, *q = NULL;
	int rc = 1;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--entries") == 0) n = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--kb") == 0) kb_path = argv[i + 1];
		else if (strcmp(argv[i], "--queries") == 0) q_path = argv[i + 1];
		else if (strcmp(argv[i], "--nqueries") == 0) nq = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--seed") == 0) seed = strtoul(argv[i + 1], NULL, 10);
		else break;
	}
	if (argc % 2 == 0 || !n || n > MAX_ENTRIES || !kb_path || !q_path || nq > 1000000) {
		fprintf(stderr, "usage: genkb --entries N --kb FILE --queries FILE "
			"[--nqueries M] [--seed S]   (N <= %d)\n", MAX_ENTRIES);
		return 2;
	}
	rng_state ^= (uint64_t)seed * 0xbf58476d1ce4e5b9ull;
	if (!(kb = fopen(kb_path, "w"))) {
		fprintf(stderr, "genkb: %s: %s\n", kb_path, strerror(errno));
		goto out;
	}
	if (!(q = fopen(q_path, "w"))) {
		fprintf(stderr, "genkb: %s: %s\n", q_path, strerror(errno));
		goto out;
	}
	for (unsigned long e = 0; e < n; e++)
		write_entry(kb, (unsigned)(e % nkinds), (unsigned)(e / nkinds));
	for (unsigned long k = 0; k < nq; k++)
		write_query(q, nkinds, (unsigned)((n + nkinds - 1) / nkinds), (unsigned)n);
	if (ferror(kb) || ferror(q)) {
		fprintf(stderr, "genkb: write error\n");
		goto out;
	}
	rc = 0;
out:
	if (kb && fclose(kb) != 0)
		rc = 1;
	if (q && fclose(q) != 0)
		rc = 1;
	return rc;
}
