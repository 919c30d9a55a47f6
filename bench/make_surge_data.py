"""Writes bench/data/surge.jsonl: the labelled set `bench/surge.py` measures on.

Every phrase below was written by hand for this set: outage surges (each a burst of
5–9 messages from different customers about one failing service, in English or
Spanish, with and without accents, with typos) mixed into ordinary support traffic
spread over six hours of one day. A line is {"id", "conversation", "channel", "at" (ISO-8601),
"text", "surge" (the surge's label, or null for ordinary traffic), "split" ("tune" or
"held_out": whole surges and a half of the ordinary traffic go to each)}.

Run `python bench/make_surge_data.py` to rewrite it (deterministic: seeded).
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

SURGES: list[tuple[str, list[str]]] = [
    (
        "checkout-en",
        [
            "Checkout is down, I can't pay for my order",
            "checkout page gives an error when I try to pay",
            "Is checkout broken? Payment fails every time",
            "cant complete checkout, error 500 on payment",
            "Your checkout is not working, the pay button does nothing",
            "checkout keeps failing with an error",
            "chekout is broken, cannot pay",
            "Payment at checkout failing since this morning",
        ],
    ),
    (
        "pagos-es",
        [
            "No puedo pagar, el pago da error",
            "El pago con tarjeta está fallando",
            "error al pagar con tarjeta, ¿está caído el sistema de pagos?",
            "los pagos no funcionan, me da error la tarjeta",
            "No me deja pagar, error en el pago",
            "pago rechazado con error, ¿qué pasa con los pagos?",
            "el sistema de pagos esta caido",
        ],
    ),
    (
        "login-en",
        [
            "I can't log in, the login page says invalid session",
            "login is broken for me",
            "Cannot login to my account since an hour",
            "The login keeps failing, password is right",
            "login not working, stuck on the login screen",
            "anyone else unable to log in? login error",
            "login broken again?? cant get in",
        ],
    ),
    (
        "correo-es",
        [
            "No me llegan los correos de confirmación",
            "los correos no llegan desde ayer",
            "No recibo ningún correo vuestro",
            "¿Hay problemas con el correo? no llega nada",
            "no me llega el correo de verificación",
            "el correo de confirmacion no llega",
        ],
    ),
    (
        "api-en",
        [
            "API returning 503 errors on every call",
            "Your API is down, all requests time out",
            "getting 503 from the API since 10 minutes",
            "api errors: service unavailable",
            "The API is timing out for our integration",
            "API requests fail with 503",
        ],
    ),
    (
        "app-es",
        [
            "La app no abre, se cierra sola",
            "la aplicación se cierra al abrirla",
            "La app se cierra nada más abrirla en el móvil",
            "no puedo abrir la app, se cierra",
            "La aplicacion se cierra sola al iniciar",
            "app se cierra sola desde la actualización",
            "la app no abre en android, se cierra",
        ],
    ),
    (
        "dashboard-en",
        [
            "The dashboard won't load, just a blank page",
            "dashboard is blank for everyone in our team",
            "Dashboard not loading since the update",
            "blank dashboard, nothing loads",
            "dashbord not loading at all",
        ],
    ),
    (
        "factura-es",
        [
            "No puedo descargar la factura, da error",
            "error al descargar facturas",
            "las facturas no se descargan",
            "La descarga de la factura falla",
            "no me deja descargar mi factura de este mes",
            "falla la descarga de facturas en PDF",
        ],
    ),
    (
        "sync-en",
        [
            "Sync is stuck, my files are not syncing",
            "files not syncing between devices",
            "sync stopped working today",
            "The sync is stuck at 0%",
            "syncing files fails with an error",
            "my files stopped syncing",
            "sync not working on any device",
        ],
    ),
    (
        "entregas-es",
        [
            "El seguimiento del envío no funciona",
            "no puedo ver el seguimiento de mi envío",
            "La página de seguimiento de envíos da error",
            "seguimiento de envio caido?",
            "el seguimiento del envio no carga",
            "error en el seguimiento de envíos",
        ],
    ),
    (
        "search-en",
        [
            "Search returns no results at all",
            "search is broken, nothing found even for exact names",
            "The search doesn't return anything today",
            "search results empty for every query",
            "seach not returning results",
        ],
    ),
    (
        "videollamada-es",
        [
            "Las videollamadas se cortan a los pocos segundos",
            "la videollamada se corta todo el rato",
            "se cortan las videollamadas, no hay forma de hablar",
            "videollamadas cortándose constantemente",
            "la videollamada se corta nada más empezar",
        ],
    ),
]

ORDINARY = [
    "How do I change my billing address?",
    "Can I get a refund for last month?",
    "What are your opening hours?",
    "I want to cancel my subscription",
    "Where can I find my invoice for March?",
    "How do I add a new user to my account?",
    "Do you ship to Canada?",
    "My order arrived damaged, the box was open",
    "Can I change the delivery date of my order?",
    "I forgot my password, how do I reset it?",
    "Is there a student discount?",
    "How do I export my data to CSV?",
    "Can I upgrade to the annual plan?",
    "The color of the shirt is different from the photo",
    "Do you have an office in Madrid?",
    "How long does shipping take to Mexico?",
    "I'd like to speak to someone about an enterprise plan",
    "Can you send me the terms of service?",
    "How do I enable two-factor authentication?",
    "My package has not arrived yet, ordered last week",
    "Is it possible to change my username?",
    "Can I pay by bank transfer?",
    "How do I delete my account?",
    "What's the difference between Pro and Team plans?",
    "Thanks for the quick help yesterday!",
    "Can I return an item after 30 days?",
    "Where do I enter a promo code?",
    "How do I connect the app to Google Calendar?",
    "Can you add dark mode please?",
    "I was charged twice for one order",
    "¿Cómo cambio mi dirección de facturación?",
    "¿Puedo pedir un reembolso del mes pasado?",
    "¿Cuál es vuestro horario de atención?",
    "Quiero cancelar mi suscripción",
    "¿Dónde encuentro la factura de marzo?",
    "¿Cómo añado un usuario nuevo a mi cuenta?",
    "¿Hacéis envíos a Argentina?",
    "Mi pedido llegó dañado",
    "¿Puedo cambiar la fecha de entrega?",
    "He olvidado mi contraseña, ¿cómo la restablezco?",
    "¿Tenéis descuento para estudiantes?",
    "¿Cómo exporto mis datos?",
    "Quiero pasar al plan anual",
    "La talla no me queda bien, quiero cambiarla",
    "¿Tenéis tienda física en Barcelona?",
    "¿Cuánto tarda el envío a Chile?",
    "Me gustaría hablar con ventas sobre el plan empresa",
    "¿Me podéis enviar las condiciones del servicio?",
    "¿Cómo activo la verificación en dos pasos?",
    "Mi paquete no ha llegado todavía",
    "¿Puedo cambiar mi nombre de usuario?",
    "¿Puedo pagar por transferencia?",
    "¿Cómo borro mi cuenta?",
    "¿Qué diferencia hay entre el plan Pro y el Team?",
    "¡Gracias por la ayuda de ayer!",
    "¿Puedo devolver un artículo después de 30 días?",
    "¿Dónde pongo el código promocional?",
    "¿Cómo conecto la app con mi calendario?",
    "Estaría bien un modo oscuro",
    "Me habéis cobrado dos veces el mismo pedido",
    "how can i change the email on my acount",
    "whats the price for 10 users",
    "cuanto cuesta el plan para 10 usuarios",
    "necesito una factura con mi CIF",
    "my discount code doesnt work",
    "el codigo de descuento no funciona",
    "can I pause my subscription for a month?",
    "¿puedo pausar la suscripción un mes?",
    "where is the API documentation?",
    "¿dónde está la documentación de la API?",
]

CHANNELS = ("email", "widget", "telegram", "slack")


def build(seed: int = 21) -> list[dict[str, object]]:
    rng = random.Random(seed)
    start = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
    rows: list[dict[str, object]] = []
    # Ordinary traffic: every phrase a few times (the second and third with small
    # changes), spread over six busy hours (six or seven per 10-minute window).
    ordinary: list[str] = []
    for phrase in ORDINARY:
        ordinary.append(phrase)
        ordinary.append(phrase.lower().rstrip("?!") + " thanks" if rng.random() < 0.5 else phrase.replace("?", " ?"))
        ordinary.append(("hola, " if rng.random() < 0.5 else "hi, ") + phrase.lower())
        if rng.random() < 0.4:
            ordinary.append(phrase + " Gracias / thanks")
    for n, text in enumerate(ordinary):
        at = start + dt.timedelta(minutes=rng.randrange(6 * 60), seconds=rng.randrange(60))
        rows.append({"text": text, "at": at, "surge": None, "split": "tune" if n % 2 == 0 else "held_out"})
    # Surges: a burst at a random time, its messages 0–110 s apart (within 10 minutes).
    for n, (label, phrases) in enumerate(SURGES):
        at = start + dt.timedelta(minutes=rng.randrange(10, 5 * 60 + 40))
        for phrase in phrases:
            rows.append({"text": phrase, "at": at, "surge": label, "split": "tune" if n % 2 == 0 else "held_out"})
            at += dt.timedelta(seconds=rng.randrange(5, 110))
    rows.sort(key=lambda r: r["at"])  # type: ignore[arg-type,return-value]
    out = []
    for i, row in enumerate(rows, start=1):
        at = row["at"]
        assert isinstance(at, dt.datetime)
        out.append(
            {
                "id": i,
                "conversation": i,
                "channel": rng.choice(CHANNELS),
                "at": at.isoformat().replace("+00:00", "Z"),
                "text": row["text"],
                "surge": row["surge"],
                "split": row["split"],
            }
        )
    return out


def main() -> None:
    path = Path(__file__).parent / "data" / "surge.jsonl"
    rows = build()
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} messages, {sum(1 for r in rows if r['surge'])} in surges -> {path}")


if __name__ == "__main__":
    main()
