-- One row per country calendar and holiday date: two HRIS holidays on one day (rare, but
-- nothing in Workday prevents it) become one day off with both names.
with

holidays as (

    select * from {{ ref('stg_hris__holidays') }}

),

final as (

    select
        country_code,
        holiday_date,
        string_agg(distinct holiday_name, ' / ' order by holiday_name) as holiday_name
    from holidays
    where country_code is not null and holiday_date is not null
    group by country_code, holiday_date

)

select * from final
