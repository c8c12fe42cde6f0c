"""Interface words of the built-in templates ("View in your browser", "Unsubscribe"...)
and digits as each language writes them.

Rules:
- Words are keyed by the primary subtag of the BCP 47 language ("fa" for "fa-IR"); a
  language without built-in words falls back to English (config.yaml warns, naming the
  words to translate).  A newsletter sets its own words (any language, or better ones)
  under ``words:`` in config.yaml, which win over these.
- Digits follow CLDR's default numbering system for the locale (Persian writes ۲۶۳,
  Bengali ২৬৩, Arabic and Albanian 263), unless config.yaml says ``digits: latin``.  Only
  numbers digest writes itself are converted (dates, issue and page numbers), never user
  text; URLs and machine-readable values (datetime="", feeds' dates) keep ASCII digits.
"""

from __future__ import annotations

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "view_in_browser": "View in your browser",
        "unsubscribe": "Unsubscribe",
        "why": "You are receiving this email because you subscribed to {title}.",
        "archive": "All issues",
        "issues": "Issues",
        "no_issues": "No issues yet.",
        "skip": "Skip to content",
        "feeds": "Feeds",
        "updated": "Updated",
        "editions": "Editions",
        "recent": "Recent issues",
        "previous": "Previous issue",
        "next": "Next issue",
        "newer": "Newer issues",
        "older": "Older issues",
        "page": "Page {page} of {count}",
        "share": "Share",
        "share_email": "Email",
        "sponsored": "Sponsored",
        "subscribe": "Subscribe",
        "search": "Search the archive",
        "permalink": "Link to {title}",
        "number": "Issue {number}",
    },
    "ar": {
        "view_in_browser": "عرض في المتصفح",
        "unsubscribe": "إلغاء الاشتراك",
        "why": "تصلك هذه الرسالة لأنك مشترك في {title}.",
        "archive": "جميع الأعداد",
        "issues": "الأعداد",
        "no_issues": "لا توجد أعداد بعد.",
        "skip": "انتقل إلى المحتوى",
        "feeds": "الخلاصات",
        "updated": "آخر تحديث",
        "editions": "الإصدارات",
        "recent": "أحدث الأعداد",
        "previous": "العدد السابق",
        "next": "العدد التالي",
        "newer": "أعداد أحدث",
        "older": "أعداد أقدم",
        "page": "الصفحة {page} من {count}",
        "share": "شارك",
        "share_email": "البريد الإلكتروني",
        "sponsored": "محتوى مموَّل",
        "subscribe": "اشترك",
        "search": "ابحث في الأرشيف",
        "permalink": "رابط إلى {title}",
        "number": "العدد {number}",
    },
    "fa": {
        "view_in_browser": "مشاهده در مرورگر",
        "unsubscribe": "لغو اشتراک",
        "why": "این ایمیل را دریافت می‌کنید چون مشترک {title} هستید.",
        "archive": "همه شماره‌ها",
        "issues": "شماره‌ها",
        "no_issues": "هنوز شماره‌ای منتشر نشده است.",
        "skip": "رفتن به محتوا",
        "feeds": "خوراک‌ها",
        "updated": "آخرین به‌روزرسانی",
        "editions": "نسخه‌ها",
        "recent": "شماره‌های اخیر",
        "previous": "شمارهٔ قبلی",
        "next": "شمارهٔ بعدی",
        "newer": "شماره‌های جدیدتر",
        "older": "شماره‌های قدیمی‌تر",
        "page": "صفحهٔ {page} از {count}",
        "share": "هم‌رسانی",
        "share_email": "ایمیل",
        "sponsored": "محتوای حمایت‌شده",
        "subscribe": "اشتراک",
        "search": "جست‌وجو در بایگانی",
        "permalink": "پیوند به {title}",
        "number": "شمارهٔ {number}",
    },
    "sq": {
        "view_in_browser": "Shikojeni në shfletues",
        "unsubscribe": "Çregjistrohu",
        "why": "E merrni këtë email sepse jeni abonuar në {title}.",
        "archive": "Të gjithë numrat",
        "issues": "Numrat",
        "no_issues": "Ende nuk ka numra.",
        "skip": "Kalo te përmbajtja",
        "feeds": "Burimet RSS",
        "updated": "Përditësuar më",
        "editions": "Edicionet",
        "recent": "Numrat e fundit",
        "previous": "Numri i mëparshëm",
        "next": "Numri tjetër",
        "newer": "Numra më të rinj",
        "older": "Numra më të vjetër",
        "page": "Faqja {page} nga {count}",
        "share": "Shpërndaje",
        "share_email": "Email",
        "sponsored": "I sponsorizuar",
        "subscribe": "Abonohu",
        "search": "Kërko në arkiv",
        "permalink": "Lidhje për {title}",
        "number": "Numri {number}",
    },
    "de": {
        "view_in_browser": "Im Browser ansehen",
        "unsubscribe": "Abmelden",
        "why": "Sie erhalten diese E-Mail, weil Sie {title} abonniert haben.",
        "archive": "Alle Ausgaben",
        "issues": "Ausgaben",
        "no_issues": "Noch keine Ausgaben.",
        "skip": "Zum Inhalt springen",
        "feeds": "Feeds",
        "updated": "Aktualisiert am",
        "editions": "Sprachen",
        "recent": "Neueste Ausgaben",
        "previous": "Vorherige Ausgabe",
        "next": "Nächste Ausgabe",
        "newer": "Neuere Ausgaben",
        "older": "Ältere Ausgaben",
        "page": "Seite {page} von {count}",
        "share": "Teilen",
        "share_email": "E-Mail",
        "sponsored": "Gesponsert",
        "subscribe": "Abonnieren",
        "search": "Im Archiv suchen",
        "permalink": "Link zu {title}",
        "number": "Ausgabe {number}",
    },
    "fr": {
        "view_in_browser": "Voir dans le navigateur",
        "unsubscribe": "Se désabonner",
        "why": "Vous recevez cet e-mail car vous êtes abonné à {title}.",
        "archive": "Tous les numéros",
        "issues": "Numéros",
        "no_issues": "Aucun numéro pour l’instant.",
        "skip": "Aller au contenu",
        "feeds": "Flux",
        "updated": "Mis à jour le",
        "editions": "Éditions",
        "recent": "Numéros récents",
        "previous": "Numéro précédent",
        "next": "Numéro suivant",
        "newer": "Numéros plus récents",
        "older": "Numéros plus anciens",
        "page": "Page {page} sur {count}",
        "share": "Partager",
        "share_email": "E-mail",
        "sponsored": "Sponsorisé",
        "subscribe": "S’abonner",
        "search": "Rechercher dans les archives",
        "permalink": "Lien vers {title}",
        "number": "Numéro {number}",
    },
    "es": {
        "view_in_browser": "Ver en el navegador",
        "unsubscribe": "Darse de baja",
        "why": "Recibes este correo porque estás suscrito a {title}.",
        "archive": "Todos los números",
        "issues": "Números",
        "no_issues": "Todavía no hay números.",
        "skip": "Saltar al contenido",
        "feeds": "Feeds",
        "updated": "Actualizado el",
        "editions": "Ediciones",
        "recent": "Números recientes",
        "previous": "Número anterior",
        "next": "Número siguiente",
        "newer": "Números más recientes",
        "older": "Números anteriores",
        "page": "Página {page} de {count}",
        "share": "Compartir",
        "share_email": "Correo",
        "sponsored": "Patrocinado",
        "subscribe": "Suscribirse",
        "search": "Buscar en el archivo",
        "permalink": "Enlace a {title}",
        "number": "Número {number}",
    },
}


WORDS = tuple(STRINGS["en"])  # the keys a newsletter may set under words:
# The words that are formatted, and the fields they may use.
FIELDS = {"why": ("title",), "page": ("page", "count"), "permalink": ("title",), "number": ("number",)}


def strings_for(language: str, words: tuple[tuple[str, str], ...] = ()) -> dict[str, str]:
    """The interface words for a BCP 47 language tag (English for unknown languages),
    with the newsletter's own ``words`` over them."""
    primary = language.split("-")[0].lower()
    return {**STRINGS["en"], **STRINGS.get(primary, {}), **dict(words)}


def missing_words(language: str) -> tuple[str, ...]:
    """The words digest has no built-in translation of for ``language`` (all of them for a
    language it does not know), in the order of WORDS."""
    known = STRINGS.get(language.split("-")[0].lower(), {})
    return tuple(word for word in WORDS if word not in known)


# The digit zero of every numeric CLDR numbering system that a locale Babel knows uses by
# default; the other nine follow it in Unicode.  tests/test_editions.py checks that no
# locale's default is missing here.
ZEROS = {
    "latn": "0",
    "arab": "\u0660",  # ٠ Arabic-Indic
    "arabext": "\u06f0",  # ۰ Persian, Pashto, Urdu (Iran, Afghanistan)
    "adlm": "\U0001e950",
    "beng": "\u09e6",
    "cakm": "\U00011136",
    "deva": "\u0966",
    "hmnp": "\U0001e140",
    "mtei": "\uabf0",
    "mymr": "\u1040",
    "nkoo": "\u07c0",
    "olck": "\u1c50",
    "tibt": "\u0f20",
}
DIGITS = ("locale", "latin")  # the values of ``digits:`` in config.yaml


def numbering_system(language: str, digits: str = "locale") -> str:
    """The CLDR numbering system digest writes ``language``'s numbers in: the locale's
    default ("fa" → "arabext"), or "latn" when config.yaml says ``digits: latin``."""
    if digits == "latin":
        return "latn"
    from babel import Locale, UnknownLocaleError

    try:
        system = str(Locale.parse(language, sep="-").default_numbering_system)
    except (ValueError, TypeError, UnknownLocaleError):
        return "latn"
    return system if system in ZEROS else "latn"


def localize_digits(text: str, system: str) -> str:
    """``text`` with its ASCII digits written in the numbering system ``system``."""
    zero = ZEROS.get(system, "0")
    if zero == "0":
        return text
    return text.translate({ord("0") + i: chr(ord(zero) + i) for i in range(10)})


def format_title(fmt: str, title: str, number: int, system: str) -> str:
    """An issue title from config.issue_title: the number (and its width, {number:03}) in
    the edition's digits, the newsletter's title as written."""
    import string

    class Formatter(string.Formatter):
        def format_field(self, value: object, spec: str) -> str:
            text = super().format_field(value, spec)
            return localize_digits(text, system) if isinstance(value, int) else text

    return Formatter().format(fmt, title=title, number=number)
