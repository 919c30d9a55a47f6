"""A small bilingual help center for knowledge-base tests: eight topics in English and
Spanish, plus one draft per language that must never be found by the public."""

from __future__ import annotations

from sqlalchemy import Connection

from inbox.pipeline.articles import ArticleDraft, create_article

# (translation key, category, title, body) per language
TOPICS: dict[str, list[tuple[str, str, str, str]]] = {
    "en": [
        ("reset-password", "Account", "Reset your password",
         "Forgot your password? On the sign-in page click **Forgot password**, enter your email and follow the link we send. The link works for one hour."),
        ("invoices", "Billing", "Download your invoices",
         "Every payment has an invoice in PDF. Open Account, then Billing, and click Download next to the invoice."),
        ("shipping", "Orders", "Shipping times and parcel tracking",
         "Orders leave the warehouse the same working day. Delivery takes two to three days. You get a tracking link by email when the parcel ships."),
        ("returns", "Orders", "Return an item and get a refund",
         "You can return any item within 30 days. Print the return label from your orders page; the refund reaches your card within five days of our receiving it."),
        ("two-factor", "Account", "Turn on two-factor authentication",
         "Protect your account with a second step at sign-in. Scan the QR code with an authenticator app and type the six-digit code."),
        ("delete-account", "Account", "Delete your account",
         "Deleting your account erases your profile and order history for good. Go to Account, Privacy, and choose Delete account."),
        ("payment-methods", "Billing", "Change your payment method",
         "Add a new credit card or remove an old one under Billing, Payment methods. The default card pays future orders."),
        ("change-email", "Account", "Change the email address of your account",
         "Type the new address under Account, Profile. You will need your current password to confirm the change."),
    ],
    "es": [
        ("reset-password", "Cuenta", "Restablecer la contraseña",
         "¿Olvidaste tu contraseña? En la página de inicio de sesión pulsa **¿Olvidaste tu contraseña?**, escribe tu correo y sigue el enlace que te enviamos. El enlace funciona durante una hora."),
        ("invoices", "Facturación", "Descargar tus facturas",
         "Cada pago tiene su factura en PDF. Abre Cuenta, luego Facturación, y pulsa Descargar junto a la factura."),
        ("shipping", "Pedidos", "Plazos de envío y seguimiento del paquete",
         "Los pedidos salen del almacén el mismo día laborable. La entrega tarda de dos a tres días. Recibirás un enlace de seguimiento por correo cuando el paquete salga."),
        ("returns", "Pedidos", "Devolver un artículo y obtener un reembolso",
         "Puedes devolver cualquier artículo en 30 días. Imprime la etiqueta de devolución desde tus pedidos; el reembolso llega a tu tarjeta en cinco días desde que lo recibimos."),
        ("two-factor", "Cuenta", "Activar la verificación en dos pasos",
         "Protege tu cuenta con un segundo paso al iniciar sesión. Escanea el código QR con una aplicación de autenticación y escribe el código de seis cifras."),
        ("delete-account", "Cuenta", "Eliminar tu cuenta",
         "Eliminar tu cuenta borra tu perfil y tu historial de pedidos para siempre. Ve a Cuenta, Privacidad, y elige Eliminar cuenta."),
        ("payment-methods", "Facturación", "Cambiar el método de pago",
         "Añade una tarjeta de crédito nueva o quita una antigua en Facturación, Métodos de pago. La tarjeta predeterminada paga los próximos pedidos."),
        ("change-email", "Cuenta", "Cambiar el correo electrónico de tu cuenta",
         "Escribe la nueva dirección en Cuenta, Perfil. Necesitarás tu contraseña actual para confirmar el cambio."),
    ],
}  # fmt: skip

DRAFTS = {
    "en": ("secret-pricing", "Billing", "Secret pricing for next year", "The new password-protected pricing starts in January."),
    "es": ("secret-pricing", "Facturación", "Precios secretos del año que viene", "Los nuevos precios con contraseña empiezan en enero."),
}


def seed(conn: Connection) -> dict[tuple[str, str], int]:
    """Save the corpus; returns {(translation key, language): article id}."""
    ids: dict[tuple[str, str], int] = {}
    for language, topics in TOPICS.items():
        for key, category, title, body in topics:
            ids[key, language] = create_article(
                conn, ArticleDraft(title, body, language, category, slug=key, status="published", translation_key=key)
            ).article_id
        key, category, title, body = DRAFTS[language]
        ids[key, language] = create_article(
            conn, ArticleDraft(title, body, language, category, slug=key, status="draft", translation_key=key)
        ).article_id
    return ids
