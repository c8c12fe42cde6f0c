"""Interface words of the built-in templates ("View in your browser", "Unsubscribe"...).

Rules: keyed by the primary subtag of the BCP 47 language ("fa" for "fa-IR"); a missing
language or word falls back to English.  A newsletter sets its own words (any language,
or better ones) under ``words:`` in config.yaml, which win over these.
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
    },
}


WORDS = tuple(STRINGS["en"])  # the keys a newsletter may set under words:
# The words that are formatted, and the fields they may use.
FIELDS = {"why": ("title",)}


def strings_for(language: str, words: tuple[tuple[str, str], ...] = ()) -> dict[str, str]:
    """The interface words for a BCP 47 language tag (English for unknown languages),
    with the newsletter's own ``words`` over them."""
    primary = language.split("-")[0].lower()
    return {**STRINGS["en"], **STRINGS.get(primary, {}), **dict(words)}
