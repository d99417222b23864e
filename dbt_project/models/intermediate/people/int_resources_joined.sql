-- One row per PSA resource (non-deleted Certinia Contact) with its Workday worker's
-- attributes. HRIS is the system of record for the person; the PSA contributes only the
-- resource id and the link (Workday_Worker_ID). A resource without a Workday match keeps
-- its row with empty HRIS attributes, so nothing keyed on resource_id goes missing.
with

contacts as (

    select * from {{ ref('stg_psa__contacts') }}

),

workers as (

    select * from {{ ref('stg_hris__workers') }}

),

subsidiaries as (

    select * from {{ ref('stg_erp__subsidiaries') }}

),

final as (

    select
        -- ids
        contacts.resource_id,
        contacts.worker_id,

        -- strings
        coalesce(workers.worker_name, contacts.resource_name) as resource_name,
        workers.legal_entity_code,
        workers.practice,
        workers.region,
        workers.role_code,
        -- Workday picks the holiday calendar by work location; an empty location falls
        -- back to the employing entity's country.
        coalesce(workers.location_country_code, subsidiaries.country_code) as country_code,
        workers.worker_type,

        -- numerics
        workers.scheduled_weekly_hours,

        -- booleans
        workers.worker_id is not null as has_worker,
        coalesce(contacts.is_resource_active, false) as is_resource_active,

        -- dates
        workers.hire_date,
        workers.termination_date

    from contacts
    left outer join workers
        on contacts.worker_id = workers.worker_id
    left outer join subsidiaries
        on workers.legal_entity_code = subsidiaries.legal_entity_code
    where not contacts.is_deleted

)

select * from final
