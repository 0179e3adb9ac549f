"""X12 code lists the 271 reader turns into words (005010X279A1 values, public code sources)."""

from __future__ import annotations

# AAA03: why the payer rejected the inquiry, at whichever loop the AAA stands.
REJECT_REASONS = {
    "04": "Authorized quantity exceeded",
    "15": "Required application data missing",
    "33": "Input errors",
    "35": "Out of network",
    "41": "Authorization/access restrictions",
    "42": "Payer unable to respond now",
    "43": "Invalid/missing provider identification",
    "44": "Invalid/missing provider name",
    "45": "Invalid/missing provider specialty",
    "46": "Invalid/missing provider phone number",
    "47": "Invalid/missing provider state",
    "48": "Invalid/missing referring provider identification",
    "49": "Provider is not primary care physician",
    "50": "Provider ineligible for inquiries",
    "51": "Provider not on file",
    "52": "Service dates not within provider plan enrollment",
    "53": "Inquired benefit inconsistent with provider type",
    "54": "Inappropriate product/service ID qualifier",
    "55": "Inappropriate product/service ID",
    "56": "Inappropriate date",
    "57": "Invalid/missing date(s) of service",
    "58": "Invalid/missing date of birth",
    "60": "Date of birth follows date(s) of service",
    "61": "Date of death precedes date(s) of service",
    "62": "Date of service not within allowable inquiry period",
    "63": "Date of service in future",
    "64": "Invalid/missing patient ID",
    "65": "Invalid/missing patient name",
    "66": "Invalid/missing patient gender",
    "67": "Patient not found",
    "68": "Duplicate patient ID number",
    "69": "Inconsistent with patient's age",
    "70": "Inconsistent with patient's gender",
    "71": "Birth date does not match the payer's record",
    "72": "Invalid member ID",
    "73": "Invalid name",
    "74": "Invalid/missing subscriber gender",
    "75": "Subscriber not found",
    "76": "Duplicate subscriber ID number",
    "77": "Subscriber found, patient not found",
    "78": "Subscriber not in group/plan identified",
    "79": "Invalid participant identification",
    "80": "No response received - transaction terminated",
    "97": "Invalid or missing provider address",
    "T4": "Payer name or identifier missing",
}
# Reasons that say "ask again later", not "this coverage is wrong".
RETRYABLE_REASONS = frozenset({"42", "80"})

# AAA04: what the payer wants done next.
FOLLOW_UP_ACTIONS = {
    "C": "Please correct and resubmit",
    "N": "Resubmission not allowed",
    "P": "Please resubmit original transaction",
    "R": "Resubmission allowed",
    "S": "Do not resubmit; inquiry initiated to a third party",
    "W": "Please wait 30 days and resubmit",
    "X": "Please wait 10 days and resubmit",
    "Y": "Do not resubmit; we will hand deliver",
}

# EB01: eligibility or benefit information.
BENEFIT_KINDS = {
    "1": "Active coverage", "2": "Active - full risk capitation", "3": "Active - services capitated",
    "4": "Active - services capitated to primary care physician", "5": "Active - pending investigation",
    "6": "Inactive", "7": "Inactive - pending eligibility update", "8": "Inactive - pending investigation",
    "A": "Co-insurance", "B": "Co-payment", "C": "Deductible", "CB": "Coverage basis",
    "D": "Benefit description", "E": "Exclusions", "F": "Limitations", "G": "Out of pocket (stop loss)",
    "H": "Unlimited", "I": "Non-covered", "J": "Cost containment", "K": "Reserve",
    "L": "Primary care provider", "M": "Pre-existing condition", "MC": "Managed care coordinator",
    "N": "Services restricted to following provider", "O": "Not deemed a medical necessity",
    "P": "Benefit disclaimer", "Q": "Second surgical opinion required", "R": "Other or additional payor",
    "S": "Prior year(s) history", "T": "Card(s) reported lost/stolen",
    "U": "Contact following entity for eligibility or benefit information", "V": "Cannot process",
    "W": "Other source of data", "X": "Health care facility", "Y": "Spend down",
}
ACTIVE_KINDS = frozenset("12345")
INACTIVE_KINDS = frozenset("678")

# EB03 / EQ01: service types the desk is likely to meet (the full list has ~200).
SERVICE_TYPES = {
    "1": "Medical care", "30": "Health benefit plan coverage", "33": "Chiropractic", "35": "Dental care",
    "47": "Hospital", "48": "Hospital - inpatient", "50": "Hospital - outpatient", "86": "Emergency services",
    "88": "Pharmacy", "98": "Professional (physician) visit - office", "A0": "Professional (physician) visit - outpatient",
    "AL": "Vision (optometry)", "BZ": "Physician visit - office: sick", "BY": "Physician visit - office: well",
    "MH": "Mental health", "UC": "Urgent care", "AG": "Skilled nursing care", "PT": "Physical therapy",
}

# EB06: time period qualifier.
TIME_PERIODS = {
    "6": "hour", "7": "day", "13": "24 hours", "21": "years", "22": "service year", "23": "calendar year",
    "24": "year to date", "25": "contract", "26": "episode", "27": "visit", "28": "outlier", "29": "remaining",
    "30": "exceeded", "31": "not exceeded", "32": "lifetime", "33": "lifetime remaining", "34": "month",
    "35": "week", "36": "admission",
}

# EB12: in plan network indicator.
NETWORK = {"Y": "in network", "N": "out of network", "U": "unknown", "W": "not applicable"}
