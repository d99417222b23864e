with

calendar_dates as (

    select * from {{ ref('int_calendar_dates') }}

),

legal_entities as (

    select * from {{ ref('dim_legal_entity') }}

),

holidays as (

    select * from {{ ref('int_country_holidays') }}

),

final as (

    select
        -- ids
        calendar_dates.calendar_date,
        legal_entities.legal_entity_code,

        -- strings
        holidays.holiday_name,

        -- numerics
        cast(calendar_dates.iso_year as integer) as iso_year,
        cast(calendar_dates.iso_week as integer) as iso_week,

        -- booleans
        calendar_dates.is_weekday,
        holidays.holiday_date is not null as is_holiday,
        calendar_dates.is_weekday and holidays.holiday_date is null as is_working_day,

        -- dates
        calendar_dates.week_start_date,
        calendar_dates.month_start_date

    from calendar_dates
    cross join legal_entities
    left outer join holidays
        on
            legal_entities.country_code = holidays.country_code
            and calendar_dates.calendar_date = holidays.holiday_date

)

select * from final
