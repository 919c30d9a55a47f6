"""UI text in English and Spanish; the agent's choice, else the browser's, else the server's."""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("en", "es")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "app": "Frontdesk",
        "email": "Email",
        "password": "Password",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "bad_login": "Wrong email or password.",
        "too_many": "Too many attempts. Try again in a minute.",
        "link_invalid": "This login link is invalid, expired or already used.",
        "set_password": "Choose a password",
        "new_password": "New password",
        "confirm_password": "Repeat the password",
        "save": "Save",
        "password_short": "Use at least 10 characters.",
        "password_mismatch": "The two passwords differ.",
        "password_saved": "Password saved. Other sessions were signed out.",
        "inbox": "Inbox",
        "no_conversations": "No conversations yet.",
        "status": "Status",
        "channel": "Channel",
        "contact": "Contact",
        "subject": "Subject",
        "last_activity": "Last activity",
        "csrf": "Your form expired. Reload the page and try again.",
        "conversation": "Conversation",
        "reply": "Reply",
        "send": "Send",
        "private_note": "Private note",
    },
    "es": {
        "app": "Frontdesk",
        "email": "Correo electrónico",
        "password": "Contraseña",
        "sign_in": "Iniciar sesión",
        "sign_out": "Cerrar sesión",
        "bad_login": "Correo o contraseña incorrectos.",
        "too_many": "Demasiados intentos. Inténtalo de nuevo en un minuto.",
        "link_invalid": "Este enlace de acceso no es válido, caducó o ya se usó.",
        "set_password": "Elige una contraseña",
        "new_password": "Nueva contraseña",
        "confirm_password": "Repite la contraseña",
        "save": "Guardar",
        "password_short": "Usa al menos 10 caracteres.",
        "password_mismatch": "Las contraseñas no coinciden.",
        "password_saved": "Contraseña guardada. Se cerraron las demás sesiones.",
        "inbox": "Bandeja de entrada",
        "no_conversations": "Todavía no hay conversaciones.",
        "status": "Estado",
        "channel": "Canal",
        "contact": "Contacto",
        "subject": "Asunto",
        "last_activity": "Última actividad",
        "csrf": "El formulario caducó. Recarga la página e inténtalo de nuevo.",
        "conversation": "Conversación",
        "reply": "Responder",
        "send": "Enviar",
        "private_note": "Nota privada",
    },
}


def pick_language(agent_language: str | None, accept_language: str | None, default: str) -> str:
    if agent_language in LANGUAGES:
        return agent_language
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return default if default in LANGUAGES else "en"


def translator(language: str) -> Callable[[str], str]:
    table = TEXT.get(language, TEXT["en"])
    return lambda key: table.get(key, TEXT["en"].get(key, key))
