/*
 * caresync core: the normalized patient of spec/job.md and its JSON.
 *
 * A source fills one cs_patient_t; cs_patient_write() prints it in the
 * documented key order, leaving out every empty value.  Text fields are
 * views into the parsed body, already trimmed; name fields are also
 * whitespace-collapsed when written.  Fixed char arrays hold values that
 * were rewritten (dates, phones, codes) and are "" when absent.
 *
 * Hint's patient maps into the same shape (HelpAround's is in
 * cs_helparound.c):
 *   Hint        title -> prefix; sex (else gender) -> gender;
 *               address_* -> address; practitioner {id,name} ->
 *               practitioner {id,name};
 *               health_insurance_payer_name -> payer_name,
 *               health_insurance_payer_id   -> payer_id (the payer is the
 *               plan's identity, not a card field: top level),
 *               health_insurance_member_id  -> insurance.primary.member_id,
 *               health_insurance_group_id   -> insurance.primary.group_num;
 *               membership_status, external_link_id as named.
 * A target wanting "the payer" reads payer_name, else the primary carrier.
 */

#ifndef CS_PATIENT_H
#define CS_PATIENT_H

#include "cs_buf.h"
#include "cs_field.h"
#include "cs_normalize.h"
#include "cs_str.h"
#include "cs_time.h"

#define CS_PATIENT_PHONES  8

typedef struct {
    cs_str_t     source;
    cs_str_t     id;
} cs_patient_xid_t;

typedef struct {
    const char  *type;                /* "mobile", "home", "office" … */
    char         number[CS_PHONE_LEN + 1];
} cs_patient_phone_t;

typedef struct {
    cs_str_t     name;
    int          value;               /* 1, 0, or -1 when absent */
    char         at[CS_TIME_ISO_LEN + 1];
} cs_patient_consent_t;

typedef struct {
    cs_str_t     carrier;
    cs_str_t     member_id;
    cs_str_t     group_num;
    cs_str_t     card_name;
    char         card_dob[CS_TIME_DATE_LEN + 1];
    cs_str_t     front_image_id;
    cs_str_t     back_image_id;
    cs_str_t     status;
} cs_patient_insurance_t;

typedef struct {
    cs_str_t     line1;
    cs_str_t     line2;
    cs_str_t     city;
    char         state[3];
    char         zip[CS_ZIP_LEN + 1];
    char         country[3];          /* "US" unless the source says */
} cs_patient_address_t;

typedef struct {
    cs_str_t     name;
    cs_str_t     relationship;
    char         phone[CS_PHONE_LEN + 1];
    char         email[CS_EMAIL_MAX + 1];
} cs_patient_caregiver_t;

typedef struct {
    cs_str_t                source_id;
    cs_str_t                external_id;
    size_t                  n_external_ids;
    cs_str_t                first_name;
    cs_str_t                middle_name;
    cs_str_t                last_name;
    cs_str_t                prefix;
    cs_str_t                suffix;
    char                    dob[CS_TIME_DATE_LEN + 1];
    const char             *gender;
    char                    email[CS_EMAIL_MAX + 1];
    size_t                  n_phones;
    cs_patient_phone_t      phones[CS_PATIENT_PHONES];
    cs_patient_address_t    address;
    cs_str_t                language;
    cs_str_t                contact_method;
    cs_str_t                call_time;
    cs_patient_caregiver_t  caregiver;
    cs_patient_insurance_t  primary;
    cs_patient_insurance_t  secondary;
    size_t                  n_consents;
    char                    signature_at[CS_TIME_ISO_LEN + 1];
    cs_str_t                signature_image_id;
    cs_str_t                practitioner_id;
    cs_str_t                practitioner_name;
    cs_str_t                payer_name;
    cs_str_t                payer_id;
    cs_str_t                membership_status;
    cs_str_t                external_link_id;

    /*
     * The lists last, most of the struct: they are not cleared, each
     * entry is written whole as it is added, and only the first n_* are
     * ever read.
     */
    cs_patient_xid_t        external_ids[CS_FIELD_ARRAY_MAX];
    cs_patient_consent_t    consents[CS_FIELD_ARRAY_MAX];
} cs_patient_t;

/* All absent, country "US"; the lists empty. */
void cs_patient_init(cs_patient_t *p);

/* Appends the patient object `{…}`. */
void cs_patient_write(cs_buf_t *b, const cs_patient_t *p);

#endif /* CS_PATIENT_H */
