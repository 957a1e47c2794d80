"""What finance reads in the report, in Spanish (es-CO) first and English by the ``language`` setting,
and how numbers and dates are written in each."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

TEXTS: dict[str, dict[str, str]] = {
    "title": {"es": "Informe de recaudo y cartera", "en": "Collections and receivables report"},
    "period": {"es": "Periodo del {start} al {end} ({days} días)", "en": "Period {start} to {end} ({days} days)"},
    "generated": {"es": "Generado el {at}", "en": "Generated {at}"},
    "all_companies": {"es": "Todas las empresas", "en": "All companies"},
    "company": {"es": "Empresa", "en": "Company"},
    "no_company": {"es": "(cuenta sin empresa)", "en": "(account without company)"},
    "no_data": {
        "es": "Aún no hay datos: el agente no ha procesado extractos ni leído la cartera del ERP en este periodo. "
              "El informe se llena después de la primera ejecución.",
        "en": "No data yet: the agent has not processed statements or read the ERP's receivables in this period. "
              "The report fills in after the first run.",
    },
    "not_available": {"es": "s. d.", "en": "n/a"},
    # headline figures
    "kpi_auto_rate": {"es": "Aplicación automática", "en": "Auto-application rate"},
    "kpi_auto_rate_hint": {"es": "{auto} de {payments} pagos de clientes; {reversed} reversados por finanzas",
                           "en": "{auto} of {payments} customer payments; {reversed} reversed by finance"},
    "kpi_time": {"es": "Tiempo hasta la aplicación", "en": "Time to application"},
    "kpi_time_hint": {"es": "mediana desde que llegó el extracto; p90 {p90}",
                      "en": "median from statement receipt; p90 {p90}"},
    "kpi_unapplied": {"es": "Pagos sin aplicar", "en": "Unapplied payments"},
    "kpi_unapplied_hint": {"es": "{count} pagos; el más antiguo de hace {oldest} días",
                           "en": "{count} payments; the oldest {oldest} days old"},
    "kpi_dso": {"es": "DSO (días de cartera)", "en": "DSO (days sales outstanding)"},
    "kpi_dso_hint": {"es": "cartera promedio / ventas × {days} días", "en": "average receivables / sales × {days} days"},
    "kpi_cei": {"es": "CEI (efectividad de recaudo)", "en": "CEI (collection effectiveness)"},
    "kpi_cei_hint": {"es": "100 % = se recaudó todo lo cobrable", "en": "100% = everything collectable was collected"},
    "kpi_overdue": {"es": "Cartera vencida", "en": "Overdue receivables"},
    "kpi_overdue_hint": {"es": "{overdue} de {total}", "en": "{overdue} of {total}"},
    "hours": {"es": "{value} h", "en": "{value} h"},
    "days_value": {"es": "{value} días", "en": "{value} days"},
    # sections
    "sec_daily": {"es": "Aplicación automática por día", "en": "Auto-application rate per day"},
    "sec_daily_note": {
        "es": "Pagos de clientes (créditos que no son traslados, intereses ni reversiones) por fecha del banco, "
              "y qué parte aplicó el agente sin intervención.",
        "en": "Customer payments (credits that are not transfers, interest or reversals) by bank date, and the "
              "share the agent applied by itself.",
    },
    "sec_time": {"es": "Días desde la fecha del banco hasta la aplicación en el ERP",
                 "en": "Days from bank date to application in the ERP"},
    "sec_time_note": {
        "es": "Desde la llegada del extracto: mediana {median}, p90 {p90}. Desde la fecha del banco: mediana {median_days}, p90 {p90_days}.",
        "en": "From statement receipt: median {median}, p90 {p90}. From bank date: median {median_days}, p90 {p90_days}.",
    },
    "sec_unapplied": {"es": "Pagos sin aplicar por antigüedad (al {date})", "en": "Unapplied payments by age (at {date})"},
    "sec_payers": {"es": "Pagadores con más valor sin aplicar", "en": "Payers with the most unapplied"},
    "sec_aging": {"es": "Cartera por edades de vencimiento", "en": "Receivables aging"},
    "sec_aging_note": {
        "es": "Según la última lectura de la cartera del ERP de cada empresa. Días vencidos a la fecha de esa lectura.",
        "en": "From each company's latest reading of the ERP's receivables. Days past due at the date of that reading.",
    },
    "sec_ar": {"es": "DSO, CEI y cartera vencida por empresa", "en": "DSO, CEI and overdue by company"},
    "sec_ar_note": {
        "es": "Cartera inicial y final: lecturas del ERP más cercanas al inicio y al final del periodo. Ventas: "
              "facturas con fecha en el periodo que el agente vio abiertas al menos una vez (ver docs/report.md).",
        "en": "Opening and closing receivables: the ERP readings nearest the period's start and end. Sales: invoices "
              "dated in the period that the agent saw open at least once (see docs/report.md).",
    },
    "sec_banks": {"es": "Por banco (cuenta) y empresa", "en": "By bank (account) and company"},
    "no_due_date_note": {
        "es": "{count} partida(s) sin fecha de vencimiento en el ERP se cuentan como corrientes.",
        "en": "{count} item(s) without a due date in the ERP are counted as current.",
    },
    "chart_empty": {"es": "Sin datos para esta gráfica en el periodo.", "en": "No data for this chart in the period."},
    "nothing_unapplied": {"es": "No hay pagos sin aplicar.", "en": "No unapplied payments."},
    # series and buckets
    "series_auto": {"es": "Automática", "en": "Automatic"},
    "series_manual": {"es": "Por finanzas", "en": "By finance"},
    "series_rate": {"es": "% aplicado automáticamente", "en": "% applied automatically"},
    "aging_current": {"es": "Corriente", "en": "Current"},
    "aging_1_30": {"es": "1-30 días", "en": "1-30 days"},
    "aging_31_60": {"es": "31-60 días", "en": "31-60 days"},
    "aging_61_90": {"es": "61-90 días", "en": "61-90 days"},
    "aging_91_180": {"es": "91-180 días", "en": "91-180 days"},
    "aging_180_plus": {"es": "Más de 180 días", "en": "Over 180 days"},
    "age_0_1": {"es": "0-1 días", "en": "0-1 days"},
    "age_2_7": {"es": "2-7 días", "en": "2-7 days"},
    "age_8_30": {"es": "8-30 días", "en": "8-30 days"},
    "age_31_60": {"es": "31-60 días", "en": "31-60 days"},
    "age_60_plus": {"es": "Más de 60 días", "en": "Over 60 days"},
    "lag_0": {"es": "Mismo día", "en": "Same day"},
    "lag_1": {"es": "1 día", "en": "1 day"},
    "lag_2_3": {"es": "2-3 días", "en": "2-3 days"},
    "lag_4_7": {"es": "4-7 días", "en": "4-7 days"},
    "lag_8_30": {"es": "8-30 días", "en": "8-30 days"},
    "lag_30_plus": {"es": "Más de 30 días", "en": "Over 30 days"},
    # table headers
    "col_day": {"es": "Fecha del banco", "en": "Bank date"},
    "col_payments": {"es": "Pagos de clientes", "en": "Customer payments"},
    "col_auto": {"es": "Aplicados automáticamente", "en": "Applied automatically"},
    "col_rate": {"es": "% automático", "en": "% automatic"},
    "col_bucket": {"es": "Rango", "en": "Range"},
    "col_manual": {"es": "Aplicados por finanzas", "en": "Applied by finance"},
    "col_amount": {"es": "Valor", "en": "Amount"},
    "col_count": {"es": "Pagos", "en": "Payments"},
    "col_currency": {"es": "Moneda", "en": "Currency"},
    "col_payer": {"es": "Pagador", "en": "Payer"},
    "col_oldest": {"es": "Días del más antiguo", "en": "Oldest (days)"},
    "col_as_of": {"es": "Lectura del ERP", "en": "ERP reading"},
    "col_total": {"es": "Total", "en": "Total"},
    "col_overdue": {"es": "Vencida", "en": "Overdue"},
    "col_overdue_pct": {"es": "% vencida", "en": "% overdue"},
    "col_begin": {"es": "Cartera inicial", "en": "Opening receivables"},
    "col_begin_at": {"es": "Lectura inicial", "en": "Opening reading"},
    "col_sales": {"es": "Ventas del periodo", "en": "Sales in period"},
    "col_end_current": {"es": "Cartera final corriente", "en": "Closing current receivables"},
    "col_dso": {"es": "DSO (días)", "en": "DSO (days)"},
    "col_cei": {"es": "CEI (%)", "en": "CEI (%)"},
    "col_account": {"es": "Cuenta", "en": "Account"},
    "col_lines": {"es": "Líneas del extracto", "en": "Statement lines"},
    "col_applied_amount": {"es": "Valor aplicado", "en": "Amount applied"},
    "col_unapplied_amount": {"es": "Valor sin aplicar", "en": "Amount unapplied"},
    "col_unapplied_count": {"es": "Pagos sin aplicar", "en": "Unapplied payments"},
    "col_figure": {"es": "Indicador", "en": "Figure"},
    "col_value": {"es": "Valor", "en": "Value"},
    "no_payer": {"es": "(sin nombre)", "en": "(no name)"},
    # workbook
    "sheet_summary": {"es": "Resumen", "en": "Summary"},
    "sheet_daily": {"es": "Aplicación diaria", "en": "Daily application"},
    "sheet_time": {"es": "Tiempo a aplicación", "en": "Time to application"},
    "sheet_unapplied": {"es": "Sin aplicar", "en": "Unapplied"},
    "sheet_payers": {"es": "Pagadores", "en": "Payers"},
    "sheet_aging": {"es": "Cartera por edades", "en": "Aging"},
    "sheet_banks": {"es": "Bancos", "en": "Banks"},
    "sum_period_start": {"es": "Inicio del periodo", "en": "Period start"},
    "sum_period_end": {"es": "Fin del periodo", "en": "Period end"},
    "sum_generated": {"es": "Generado", "en": "Generated"},
    "sum_company": {"es": "Empresa", "en": "Company"},
    "sum_lines": {"es": "Líneas de extracto en el periodo", "en": "Statement lines in the period"},
    "sum_payments": {"es": "Pagos de clientes", "en": "Customer payments"},
    "sum_auto": {"es": "Aplicados automáticamente", "en": "Applied automatically"},
    "sum_auto_rate": {"es": "% de aplicación automática", "en": "Auto-application rate"},
    "sum_auto_reversed": {"es": "Automáticos reversados por finanzas", "en": "Automatic ones reversed by finance"},
    "sum_median_hours": {"es": "Horas hasta la aplicación (mediana)", "en": "Hours to application (median)"},
    "sum_p90_hours": {"es": "Horas hasta la aplicación (p90)", "en": "Hours to application (p90)"},
    "sum_median_days": {"es": "Días desde la fecha del banco (mediana)", "en": "Days from bank date (median)"},
    "sum_p90_days": {"es": "Días desde la fecha del banco (p90)", "en": "Days from bank date (p90)"},
    "sum_unapplied_count": {"es": "Pagos sin aplicar", "en": "Unapplied payments"},
    "sum_unapplied": {"es": "Valor sin aplicar {currency}", "en": "Unapplied amount {currency}"},
    "sum_dso": {"es": "DSO {currency} (días)", "en": "DSO {currency} (days)"},
    "sum_cei": {"es": "CEI {currency} (%)", "en": "CEI {currency} (%)"},
    "sum_overdue_pct": {"es": "% cartera vencida {currency}", "en": "% overdue {currency}"},
    "sum_ar_total": {"es": "Cartera total {currency}", "en": "Total receivables {currency}"},
    "file_prefix": {"es": "informe", "en": "report"},
}

# Currencies whose amounts carry no decimals in a report (ISO 4217 minor unit 0, and COP by use:
# Colombian statements and ERPs show whole pesos).
WHOLE_UNITS = frozenset({"COP", "CLP", "JPY", "KRW", "PYG"})


def text(key: str, language: str, **params: object) -> str:
    entry = TEXTS[key]
    template = entry.get(language, entry["es"])
    return template.format(**params) if params else template


def _group(digits: str, sep: str) -> str:
    out = []
    while len(digits) > 3:
        out.insert(0, digits[-3:])
        digits = digits[:-3]
    out.insert(0, digits)
    return sep.join(out)


def number(value: Decimal, places: int, language: str) -> str:
    """``1.234.567,8`` in Spanish, ``1,234,567.8`` in English."""
    q = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    sign = "-" if q < 0 else ""
    whole, _, frac = f"{abs(q):f}".partition(".")
    thousands, decimal = (".", ",") if language == "es" else (",", ".")
    return sign + _group(whole, thousands) + (decimal + frac if places else "")


def money(value: Decimal, currency: str, language: str) -> str:
    return f"{number(value, 0 if currency in WHOLE_UNITS else 2, language)} {currency}"


def compact(value: Decimal, language: str) -> str:
    """Axis labels: 1,2 M / 1.2 M, 450 mil / 450 k."""
    units = (("mil M", "B", Decimal(10) ** 9), ("M", "M", Decimal(10) ** 6), ("mil", "k", Decimal(10) ** 3))
    for es, en, size in units:
        if abs(value) >= size:
            scaled = value / size
            places = 0 if scaled == scaled.to_integral_value() or abs(scaled) >= 100 else 1
            return f"{number(scaled, places, language)} {es if language == 'es' else en}"
    places = 0 if value == value.to_integral_value() else 1
    return number(value, places, language)


def percent(value: Decimal, language: str) -> str:
    return f"{number(value, 1, language)} %" if language == "es" else f"{number(value, 1, language)}%"


def date(value: dt.date, language: str) -> str:
    return value.strftime("%d/%m/%Y") if language == "es" else value.isoformat()


def stamp(value: dt.datetime, language: str) -> str:
    return f"{date(value.date(), language)} {value:%H:%M}"
