{#- Certinia keeps a week as seven day columns, Monday to Sunday: the hours of a schedule's
    weekly pattern (pse__Schedule__c) and of a weekly timecard (pse__Timecard_Header__c). -#}

{% macro certinia_day_hours() -%}
    {#- Staging: the seven day columns, renamed <day>_hours. -#}
    "pse__Monday_Hours__c" as monday_hours,
    "pse__Tuesday_Hours__c" as tuesday_hours,
    "pse__Wednesday_Hours__c" as wednesday_hours,
    "pse__Thursday_Hours__c" as thursday_hours,
    "pse__Friday_Hours__c" as friday_hours,
    "pse__Saturday_Hours__c" as saturday_hours,
    "pse__Sunday_Hours__c" as sunday_hours
{%- endmacro %}

{% macro day_hours(relation, iso_day_of_week) -%}
    {#- The hours of one day of the week: relation's <day>_hours column for the ISO weekday
        (1 Monday to 7 Sunday). -#}
    case {{ iso_day_of_week }}
        when 1 then {{ relation }}.monday_hours
        when 2 then {{ relation }}.tuesday_hours
        when 3 then {{ relation }}.wednesday_hours
        when 4 then {{ relation }}.thursday_hours
        when 5 then {{ relation }}.friday_hours
        when 6 then {{ relation }}.saturday_hours
        when 7 then {{ relation }}.sunday_hours
    end
{%- endmacro %}
